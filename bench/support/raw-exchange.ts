import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';

/** How one raw HTTP exchange went. */
export interface RawOutcome {
  /** The answer's status, or null when the connection ended before a full answer. */
  status: number | null;
  /** The answer's body (first 300 bytes). */
  body: string;
  /** Body bytes the socket accepted before it closed. */
  bytesWritten: number;
  /** From the connection to the complete answer, ms. */
  answerMs: number | null;
  /** From the complete answer to the connection's close, ms (uploads only). */
  closeAfterAnswerMs: number | null;
}

export interface RawRequest {
  host: string;
  port: number;
  head: string;
  /** A body to send whole, or the number of bytes to stream as fast as the socket takes them. */
  body: Buffer | { stream: number };
  timeoutMs: number;
}

const CHUNK = Buffer.alloc(64 * 1024, 0x20);
const MAX_ANSWER_BYTES = 16 * 1024;

/**
 * One HTTP/1.1 request on its own connection, over `node:net` rather than `node:http` so that
 * the client keeps writing a body after the answer arrives (as a hostile uploader would) and
 * sees exactly when the server closes. A streamed body ends the exchange when the server closes;
 * a whole body ends it at the complete answer.
 */
export function rawExchange(
  request: RawRequest,
  onStart: (abort: () => void) => void,
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ host: request.host, port: request.port });
    const streamed = !Buffer.isBuffer(request.body);
    const outcome: RawOutcome = {
      status: null,
      body: '',
      bytesWritten: 0,
      answerMs: null,
      closeAfterAnswerMs: null,
    };
    let answeredAt: number | null = null;
    let answer = Buffer.alloc(0);
    let written = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (answeredAt !== null && streamed) {
        outcome.closeAfterAnswerMs = performance.now() - answeredAt;
      }
      outcome.bytesWritten = Math.max(
        0,
        written - Buffer.byteLength(request.head) - socket.writableLength,
      );
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(finish, request.timeoutMs);
    onStart(finish);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      finish();
    });
    socket.on('data', (chunk: Buffer) => {
      if (answeredAt !== null || answer.length > MAX_ANSWER_BYTES) return;
      answer = Buffer.concat([answer, chunk]);
      const parsed = parseAnswer(answer);
      if (!parsed) return;
      answeredAt = performance.now();
      outcome.status = parsed.status;
      outcome.body = parsed.body.slice(0, 300);
      outcome.answerMs = answeredAt - started;
      if (!streamed) {
        clearTimeout(timer);
        finish();
      }
    });
    const write = (data: Buffer | string): boolean => {
      written += Buffer.byteLength(data);
      return socket.write(data);
    };
    socket.once('connect', () => {
      write(request.head);
      if (Buffer.isBuffer(request.body)) {
        write(request.body);
        return;
      }
      let left = request.body.stream;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          const chunk = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
          left -= chunk.length;
          if (!write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}

/** The status and body of a complete answer (its `content-length` read), or null if not yet. */
function parseAnswer(bytes: Buffer): { status: number; body: string } | null {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = bytes.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
  if (!Number.isInteger(status)) return null;
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  const body = bytes.subarray(end + 4);
  if (body.length < length) return null;
  return { status, body: body.subarray(0, length).toString('utf8') };
}
