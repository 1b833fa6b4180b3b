/**
 * What the module's body reader leaves on the request of the callback route, on Express and on
 * Fastify: the body exactly as received (stored as the run's raw payload, or quarantined), and,
 * when it could not be parsed as JSON, why.
 */
export interface CallbackRequestExtras {
  zapierRawBody?: string;
  zapierBodyError?: string;
}

export const isJsonContentType = (contentType: string | undefined): boolean => {
  const type = contentType?.split(';', 1)[0].trim().toLowerCase() ?? '';
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
};
