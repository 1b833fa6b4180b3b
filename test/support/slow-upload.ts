import { connect, type Socket } from 'node:net';

/** The answer to an upload, and how much of the body had been sent when it arrived. */
export interface UploadAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Body bytes written before the answer's first byte came back. */
  sentBeforeAnswer: number;
}

/**
 * An upload on a raw socket, written only when the test says so: the way to see whether a
 * server answers after the first bytes of a body or waits for the last, and whether it then
 * closes the connection rather than waiting for the rest.
 */
export class SlowUpload {
  private readonly socket: Socket;
  private sent = 0;
  private received = Buffer.alloc(0);
  private sentAtAnswer: number | undefined;
  /** Resolves with the answer once its head and (Content-Length) body are in. */
  readonly answer: Promise<UploadAnswer>;
  /** Resolves when the server closed or reset the connection. */
  readonly closed: Promise<void>;

  /**
   * `readWhenDone`: read nothing until `startReading()`, as a client that only looks at the answer
   * once it has sent its whole body (its answer is lost if the server resets the connection).
   */
  constructor(
    baseUrl: string,
    path: string,
    headers: Record<string, string | number>,
    options: { readWhenDone?: boolean } = {},
  ) {
    const url = new URL(baseUrl);
    this.socket = connect(Number(url.port), url.hostname);
    if (options.readWhenDone) this.socket.pause();
    this.socket.on('error', () => undefined); // a reset after the answer is expected
    const head = [`POST ${path} HTTP/1.1`, `Host: ${url.host}`];
    for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
    this.socket.write(`${head.join('\r\n')}\r\n\r\n`);
    this.closed = new Promise((resolve) => this.socket.once('close', () => resolve()));
    this.answer = new Promise((resolve, reject) => {
      this.socket.on('data', (chunk: Buffer) => {
        this.sentAtAnswer ??= this.sent;
        this.received = Buffer.concat([this.received, chunk]);
        const parsed = parseAnswer(this.received);
        if (parsed) resolve({ ...parsed, sentBeforeAnswer: this.sentAtAnswer });
      });
      this.socket.once('close', () => reject(new Error('closed without a complete answer')));
    });
    this.answer.catch(() => undefined);
  }

  /** Starts reading the answer (see `readWhenDone`). */
  startReading(): void {
    this.socket.resume();
  }

  /** False once the connection is gone (a write then fails, as a reset makes it). */
  get open(): boolean {
    return !this.socket.destroyed;
  }

  /** Body bytes written so far. */
  get bytesSent(): number {
    return this.sent;
  }

  /** Writes body bytes; resolves once the socket took them (or could not). */
  write(bytes: Buffer): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    this.sent += bytes.length;
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function parseAnswer(
  bytes: Buffer,
): { status: number; headers: Record<string, string>; body: string } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = bytes.subarray(end + 4);
  if (body.length < length) return undefined;
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: body.subarray(0, length).toString('utf8'),
  };
}
