import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';

/** What came back for one request; `status` is null when the connection closed unanswered. */
export interface Exchange {
  status: number | null;
  /** The response body (at most 2 kB of it). */
  body: string;
  /** Why no answer arrived: a client-side error code or `timeout`. */
  error?: string;
}

export interface HttpSend {
  method: string;
  path: string;
  /** Header lines in order; a name may repeat (sent as separate lines). */
  headers: Array<[string, string]>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked`, in pieces of these sizes, instead of a Content-Length. */
  chunks?: number[];
  timeoutMs?: number;
}

/** One request on its own connection with node:http (any method token, a body on any method). */
export function httpExchange(baseUrl: string, send: HttpSend): Promise<Exchange> {
  const url = new URL(baseUrl);
  const body = send.body ?? Buffer.alloc(0);
  // An object (node's raw array form hides Content-Length from node, which then adds
  // Transfer-Encoding too). Node's header names are case-insensitive, so a name repeated in any
  // case becomes one array, sent as separate lines.
  const headers: Record<string, string[]> = {};
  const names = new Map<string, string>();
  for (const [name, value] of send.headers) {
    const key = names.get(name.toLowerCase()) ?? name;
    names.set(name.toLowerCase(), key);
    (headers[key] ??= []).push(value);
  }
  if (!send.chunks && !send.headers.some(([name]) => name.toLowerCase() === 'content-length')) {
    headers['content-length'] = [String(body.length)];
  }
  return new Promise<Exchange>((resolve) => {
    let settled = false;
    const finish = (exchange: Exchange) => {
      if (settled) return;
      settled = true;
      resolve(exchange);
    };
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          method: send.method,
          path: send.path,
          headers,
          agent: false,
          timeout: send.timeoutMs ?? 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          res.on('data', (chunk: Buffer) => {
            if (kept < 2048) chunks.push(chunk);
            kept += chunk.length;
          });
          const done = () =>
            finish({
              status: res.statusCode ?? null,
              body: Buffer.concat(chunks).subarray(0, 2048).toString('utf8'),
            });
          res.on('end', done);
          res.on('error', done);
          res.on('close', done);
        },
      );
    } catch (error) {
      // node refused to send it (a character it does not allow in the path or a header).
      finish({
        status: null,
        body: '',
        error: `not sent: ${(error as NodeJS.ErrnoException).code}`,
      });
      return;
    }
    req.on('timeout', () => {
      req.destroy();
      finish({ status: null, body: '', error: 'timeout' });
    });
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ status: null, body: '', error: error.code ?? error.message }),
    );
    if (send.chunks) {
      let offset = 0;
      for (const size of send.chunks) {
        if (offset >= body.length) break;
        req.write(body.subarray(offset, offset + Math.max(1, size)));
        offset += Math.max(1, size);
      }
      if (offset < body.length) req.write(body.subarray(offset));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/**
 * Writes raw bytes on a fresh TCP connection and reads until the server closes it (send
 * `Connection: close`). `halfClose` ends our side after writing, which is how a client that
 * declared more body than it sent gives up; without it the server is waited on up to `timeoutMs`.
 */
export function rawExchange(
  port: number,
  bytes: Buffer,
  options: { halfClose?: boolean; timeoutMs?: number } = {},
): Promise<Exchange> {
  return new Promise<Exchange>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = 'timeout';
      socket.destroy();
    }, options.timeoutMs ?? 5000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      const bodyStart = text.indexOf('\r\n\r\n');
      resolve({
        status: status === undefined ? null : Number(status),
        body: bodyStart < 0 ? '' : text.slice(bodyStart + 4, bodyStart + 4 + 2048),
        ...(status === undefined && error ? { error } : {}),
      });
    });
    socket.write(bytes, () => {
      if (options.halfClose) socket.end();
    });
  });
}
