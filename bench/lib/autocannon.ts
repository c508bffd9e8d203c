import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../node_modules/.bin/autocannon',
);

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

/** Runs autocannon in its own process (so the load generator does not share the server's event loop). */
export function autocannon(
  url: string,
  opts: { connections: number; seconds: number; headers?: Record<string, string> },
): Promise<LoadResult> {
  const args = ['-j', '-n', '-c', String(opts.connections), '-d', String(opts.seconds)];
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    execFile(BIN, args, { maxBuffer: 10 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(err);
      const r = JSON.parse(stdout) as {
        requests: { total: number; average: number };
        latency: { p50: number; p99: number };
        non2xx: number;
        errors: number;
      };
      // A figure from failed requests (a 429 from the rate limit, a 503) measures the error
      // path, not the route: refuse it.
      if (r.non2xx + r.errors > 0)
        return reject(
          new Error(`${url}: ${r.non2xx} non-2xx responses and ${r.errors} errors under load`),
        );
      resolve({
        requests: r.requests.total,
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
      });
    });
  });
}
