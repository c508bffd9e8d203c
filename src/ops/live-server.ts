import type { Config } from '../config/config.ts';
import { DataDirLockedError, lockHolder } from '../datadir/lock.ts';
import { ADMIN_TOKEN_FILE, readSecretFile } from '../datadir/secret-file.ts';
import { AppError } from '../errors.ts';

/** A live embedded server's admin API (/ops/api), as a runbook command calls it. */
export interface LiveServer {
  pid: number;
  url: string;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

/** Long runbooks (reconcile, feed rebuild --all) answer when done. */
const CALL_TIMEOUT_MS = 30 * 60_000;

/** Which stores a command opens: only those kept in DATA_DIR take its lock. */
export function usesDataDir(config: Config, stores: 'canonical' | 'both'): boolean {
  if (!config.canonical.url) return true;
  return stores === 'both' && config.projections.kind === 'embedded' && !config.projections.url;
}

/** 0.0.0.0 and :: are where a server listens, not where a client connects. */
function reachable(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  if (u.hostname === '[::]') u.hostname = '[::1]';
  return u.origin;
}

/**
 * For a runbook command that can run through a server: the live server holding DATA_DIR,
 * or undefined when the directory is free (the command opens the stores itself). A holder
 * that serves no API (`asora work`, another runbook) refuses with its PID.
 */
export async function liveServer(
  config: Config,
  stores: 'canonical' | 'both',
): Promise<LiveServer | undefined> {
  if (!usesDataDir(config, stores)) return undefined;
  const holder = await lockHolder(config.dataDir);
  if (!holder) return undefined;
  const token = await readSecretFile(config.dataDir, ADMIN_TOKEN_FILE);
  if (!holder.url || !token) {
    const serves = /^asora (start|serve)\b/.test(holder.command);
    throw new DataDirLockedError(
      config.dataDir,
      holder,
      holder.url
        ? `cannot read ${ADMIN_TOKEN_FILE} in it to run this through that server: run this as the user that runs the server`
        : serves
          ? 'it is still starting (its API is not listening yet); run this again in a moment'
          : 'it serves no API to run this through; wait for it to finish or stop it (kill -TERM <pid>), then run this again',
    );
  }
  const base = reachable(holder.url);
  return {
    pid: holder.pid,
    url: base,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: {
            'x-asora-admin-token': token,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        });
      } catch (err) {
        throw new AppError(
          503,
          'server_unreachable',
          `the data directory is held by PID ${holder.pid} (${holder.command}), but its API at ${base} did not answer (${(err as Error).message}); stop it (kill -TERM ${holder.pid}) and run this again`,
        );
      }
      const json = (await res.json().catch(() => ({}))) as {
        error?: { code: string; message: string; details?: unknown };
      };
      if (!res.ok) {
        const e = json.error;
        throw new AppError(
          res.status,
          e?.code ?? 'server_error',
          e?.message ?? `HTTP ${res.status}`,
          e?.details,
        );
      }
      return json as T;
    },
  };
}

/** One line on stderr so the operator knows where the command ran. */
export const throughNote = (s: LiveServer) =>
  `note: the data directory is in use by PID ${s.pid}; ran this through its API at ${s.url}`;
