import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const FORWARDED_HEADERS = ['authorization', 'content-type', 'accept'];
const RETURNED_HEADERS = [
  'content-type',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];

/** An answer the proxy gives itself instead of forwarding the request. */
export interface ProxyAnswer {
  status: number;
  body?: unknown;
  /** The body as text, sent as it is (JSON no serialiser would produce); instead of `body`. */
  text?: string;
  /** Send the headers and half the body at once, the rest this much later. */
  stallBodyMs?: number;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of the sandbox that holds answers back: `delayFor` says how
 * long to wait before answering each request (after forwarding it). For a Zapier that is slow
 * to answer a poll, without changing the sandbox. `override` answers a request itself (for
 * statuses the sandbox never sends, such as a 403 to a poll).
 */
export async function startDelayingProxy(
  target: string,
  delayFor: (method: string, path: string) => number,
  override: (method: string, path: string) => ProxyAnswer | undefined = () => undefined,
): Promise<{
  url: string;
  /** Requests received, and whether the client hung up before the answer. */
  seen: Array<{ method: string; path: string; abandoned: boolean }>;
  close(): Promise<void>;
}> {
  const seen: Array<{ method: string; path: string; abandoned: boolean }> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const entry = { method: req.method ?? 'GET', path: req.url ?? '/', abandoned: false };
    seen.push(entry);
    res.on('close', () => {
      if (!res.writableEnded) entry.abandoned = true;
    });
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
      const own = override(entry.method, entry.path);
      if (own !== undefined) {
        const text = own.text ?? (own.body === undefined ? '' : JSON.stringify(own.body));
        res.writeHead(own.status, { 'content-type': 'application/json' });
        const half = Math.floor(text.length / 2);
        res.write(text.slice(0, half));
        await new Promise((resolve) => setTimeout(resolve, own.stallBodyMs ?? 0));
        if (!res.destroyed) res.end(text.slice(half));
        return;
      }
      const headers: Record<string, string> = {};
      for (const name of FORWARDED_HEADERS) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const answer = await fetch(`${target}${entry.path}`, {
        method: entry.method,
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const text = await answer.text();
      await new Promise((resolve) => setTimeout(resolve, delayFor(entry.method, entry.path)));
      if (res.destroyed) return;
      const out: Record<string, string> = {};
      for (const name of RETURNED_HEADERS) {
        const value = answer.headers.get(name);
        if (value !== null) out[name] = value;
      }
      res.writeHead(answer.status, out);
      res.end(text);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
