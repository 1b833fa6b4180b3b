import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long a refused request's connection stays open after the answer was sent, so that the
 * client reads the answer before the connection is reset (closing a socket with unread input
 * sends a TCP reset, which can discard the answer in flight).
 */
const LINGER_MS = 2000;

/** A refusal sent before (or instead of) reading the body: a status and a Nest-shaped body. */
export interface EarlyRefusal {
  status: number;
  body: { statusCode: number; error?: string; message: string | string[] };
}

/**
 * Ends a request whose body the module will not read: the connection is marked `close`, and
 * once the answer is out the socket is destroyed after a short linger, so a client trickling
 * megabytes (or never finishing) holds neither memory nor a socket.
 */
export function closeAfterAnswer(request: IncomingMessage, response: ServerResponse): void {
  if (!response.headersSent) response.setHeader('connection', 'close');
  response.once('finish', () => {
    if (request.complete) return;
    const socket = request.socket;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/** Writes an `EarlyRefusal` on a raw Node response (the Express path). */
export function writeRefusal(
  request: IncomingMessage,
  response: ServerResponse,
  refusal: EarlyRefusal,
): void {
  closeAfterAnswer(request, response);
  response.statusCode = refusal.status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(refusal.body));
}
