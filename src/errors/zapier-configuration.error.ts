/**
 * Thrown at startup when the module is configured wrongly or the host app lacks an import it
 * needs. The message names the option or import and says how to fix it.
 *
 * @publicApi
 */
export class ZapierConfigurationError extends Error {
  override readonly name = 'ZapierConfigurationError';
}
