import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

/**
 * A recorded-response HTTP layer in front of the Cosmos DB stand-in: requests a rule
 * matches get a response of the documented shape (status, x-ms-substatus, retry-after,
 * session token, etag...), everything else goes to the stand-in unchanged. For what no
 * server here can produce: 429 with retry-after, 449, 404/1002, 410/1002 on a change feed.
 */
export interface Recorded {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type Rule = (req: IncomingMessage, body: string) => Recorded | undefined;

export interface RecordingProxy {
  endpoint: string;
  /** Every request seen: method, path and headers (lower case). */
  seen: { method: string; path: string; headers: Record<string, string | string[] | undefined> }[];
  rules: Rule[];
  /** Headers added to a response the stand-in gave (e.g. the session token Cosmos sends on a write). */
  extraHeaders: ((req: IncomingMessage) => Record<string, string> | undefined)[];
  close(): Promise<void>;
}

export async function recordingProxy(upstream: string): Promise<RecordingProxy> {
  const up = new URL(upstream);
  const agent = new https.Agent({ rejectUnauthorized: false, keepAlive: true });
  const seen: RecordingProxy['seen'] = [];
  const rules: Rule[] = [];
  const extraHeaders: RecordingProxy['extraHeaders'] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: { ...req.headers } });
      for (const rule of rules) {
        const r = rule(req, body.toString('utf8'));
        if (!r) continue;
        const payload = r.body === undefined ? '' : JSON.stringify(r.body);
        res.writeHead(r.status, {
          'content-type': 'application/json',
          'x-ms-request-charge': '1',
          'x-ms-activity-id': '00000000-0000-0000-0000-000000000000',
          ...r.headers,
        });
        res.end(payload);
        return;
      }
      const fwd = https.request(
        {
          host: up.hostname,
          port: up.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: up.host },
          agent,
        },
        (ur) => {
          const extra = Object.assign({}, ...extraHeaders.map((h) => h(req) ?? {}));
          res.writeHead(ur.statusCode ?? 502, { ...ur.headers, ...extra });
          ur.pipe(res);
        },
      );
      fwd.on('error', (err) => {
        res.writeHead(502);
        res.end(String(err));
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    rules,
    extraHeaders,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
