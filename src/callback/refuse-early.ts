import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * How long a refused request's connection stays open after the answer was sent, so that the
 * client reads the answer before the connection is closed with input it has not read.
 */
const LINGER_MS = 1000;
/**
 * Most of the unread upload dropped during the linger. For a signed request (Zapier, told 413 or
 * 503) enough for a client that reads its answer only once it has sent a few megabytes; for an
 * unsigned one only what a client has in flight with a small request: every byte read and dropped
 * for a flood of unsigned uploads is garbage the process must collect (the hostile-traffic
 * benchmark's RSS grew with this figure).
 */
const LINGER_BYTES = { signed: 8 * 1024 * 1024, unsigned: 256 * 1024 };
const LINGER_CHECK_MS = 25;

/** A refusal sent before (or instead of) reading the body: a status and a Nest-shaped body. */
export interface EarlyRefusal {
  status: number;
  body: { statusCode: number; error?: string; message: string | string[] };
  /** The request's signature did not verify: it gets the short linger. */
  unsigned?: boolean;
}

/**
 * Ends a request whose body the module will not read, with a lingering close. Node ends an answer
 * marked `connection: close` with `socket.destroySoon()`, which destroys the socket as soon as the
 * answer is written; closing a socket with unread input makes the kernel send a reset, and a
 * reset can discard the answer before the client has read it (an uploading client usually reads
 * only once it stops sending). So, for this one socket, the answer is followed by a FIN, the rest
 * of the upload is read and dropped (Node discards an unread body), and the socket is destroyed
 * when the client closes it, after `LINGER_MS`, or once `LINGER_BYTES` more were read: a client
 * trickling or flooding megabytes, or never finishing, holds neither memory nor a socket for
 * longer, nor makes the server read more than a few megabytes of what it refused.
 */
export function closeAfterAnswer(
  request: IncomingMessage,
  response: ServerResponse,
  refusal: Pick<EarlyRefusal, 'unsigned'>,
): void {
  const lingerBytes = refusal.unsigned ? LINGER_BYTES.unsigned : LINGER_BYTES.signed;
  if (!response.headersSent) response.setHeader('connection', 'close');
  const socket = request.socket as IncomingMessage['socket'] & { destroySoon?: () => void };
  socket.destroySoon = () => {
    socket.end();
    const readAtAnswer = socket.bytesRead;
    const started = Date.now();
    const check = setInterval(() => {
      if (socket.bytesRead - readAtAnswer > lingerBytes || Date.now() - started >= LINGER_MS) {
        socket.destroy();
      }
    }, LINGER_CHECK_MS);
    check.unref();
    socket.once('close', () => clearInterval(check));
  };
}

/** Writes an `EarlyRefusal` on a raw Node response (the Express path). */
export function writeRefusal(
  request: IncomingMessage,
  response: ServerResponse,
  refusal: EarlyRefusal,
): void {
  closeAfterAnswer(request, response, refusal);
  response.statusCode = refusal.status;
  response.setHeader('content-type', 'application/json; charset=utf-8');
  response.end(JSON.stringify(refusal.body));
}
