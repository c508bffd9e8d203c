import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite, type QueryOptions } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import { extract } from 'tar';
import { noteSqlStatement } from '../observability/request-cost.ts';
import { TimeoutError, withTimeout } from '../observability/timeout.ts';
import type { Db, Queryable, QueryResult } from './db.ts';

/**
 * PGlite (PostgreSQL in WASM) behind the Db interface. One connection: PGlite queues
 * queries, and `transaction` holds the connection for its whole duration.
 * dataDir undefined = in-memory.
 */

export interface PgliteOptions {
  /** postgresql.conf settings (merged over PGlite's own start parameters). */
  settings?: Record<string, string>;
}

const require = createRequire(import.meta.url);
const pgliteEntry = require.resolve('@electric-sql/pglite');
const pgliteRoot = pgliteEntry.slice(0, pgliteEntry.lastIndexOf(`${path.sep}dist${path.sep}`));
const pgliteVersion = (
  JSON.parse(readFileSync(path.join(pgliteRoot, 'package.json'), 'utf8')) as { version: string }
).version;

/** The prepared empty data directory (bin/pglite-template.mjs), one per PGlite version. */
export const PGLITE_TEMPLATE = path.join(
  pgliteRoot,
  '..',
  '..',
  '.cache',
  'asora',
  `pglite-${pgliteVersion}-template.tgz`,
);

/** Makes the prepared template in a child process (initdb's ~700 MB peak stays there). */
async function makeTemplate(): Promise<void> {
  const script = fileURLToPath(new URL('../../bin/pglite-template.mjs', import.meta.url));
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [script, PGLITE_TEMPLATE], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(
            new Error(`preparing the PGlite template failed (exit ${code}): ${stderr.trim()}`),
          ),
    );
  });
}

/**
 * A new data directory is unpacked from the prepared template: no initdb in this process
 * (and no tarball loaded into PGlite's WASM heap, which never shrinks). Unpacked beside it
 * and renamed, so a crash midway leaves no half-made directory.
 */
export async function prepareDataDir(dataDir: string): Promise<void> {
  if (existsSync(path.join(dataDir, 'PG_VERSION'))) return;
  if (!existsSync(PGLITE_TEMPLATE)) await makeTemplate();
  const staging = `${dataDir}.new-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  await extract({ file: PGLITE_TEMPLATE, cwd: staging });
  try {
    await rmdir(dataDir); // an empty directory the caller made; anything else is refused
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') {
      await rm(staging, { recursive: true, force: true });
      throw new Error(`${dataDir} is not empty and holds no PostgreSQL data directory (${code})`);
    }
  }
  await rename(staging, dataDir);
}

/** A PGlite database; a new data directory starts from the prepared template (no initdb here). */
export async function createPgliteDb(dataDir?: string, opts: PgliteOptions = {}): Promise<Db> {
  if (dataDir && !dataDir.includes('://')) await prepareDataDir(dataDir);
  const startParams = [
    ...PGlite.defaultStartParams,
    ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
  ];
  const lite = await PGlite.create(dataDir, {
    extensions: { citext, pgcrypto },
    startParams,
  });
  return wrapPglite(lite);
}
/** Wraps an existing PGlite instance (e.g. one restored from a snapshot in tests). */
export function wrapPglite(lite: PGlite): Db {
  const state = { closed: false };
  return view(lite, state, undefined);
}

const JSONB_OID = 3802;

/**
 * Per-query serializers: a byte array given for a jsonb parameter goes out as it is, a binary
 * parameter (jsonbParam); anything else is serialised by PGlite as before.
 */
function passBinaryJsonb(lite: PGlite): QueryOptions {
  const text = lite.serializers[JSONB_OID];
  return {
    serializers: {
      [JSONB_OID]: (v: unknown) =>
        // PGlite sends a byte array it is handed as a binary parameter.
        ArrayBuffer.isView(v) ? (v as unknown as string) : text ? text(v) : JSON.stringify(v),
    },
  };
}

/** The Db with each call bounded by deadlineMs (in-process: a call waits in PGlite's queue). */
function view(lite: PGlite, state: { closed: boolean }, deadlineMs: number | undefined): Db {
  const options = passBinaryJsonb(lite);
  const bound = <T>(p: Promise<T>): Promise<T> =>
    deadlineMs ? withTimeout(p, deadlineMs, 'PGlite') : p;
  const query = async <T>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> => {
    noteSqlStatement();
    const r = await bound(lite.query<T>(sql, params as unknown[] | undefined, options));
    return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
  };
  return {
    engine: 'pglite',
    query,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      // A transaction that only gets the connection after its deadline must not run late.
      let started = false;
      let abandoned = false;
      noteSqlStatement(); // BEGIN (COMMIT is counted below)
      const run = lite.transaction(async (t) => {
        if (abandoned) throw new TimeoutError('PGlite transaction started after its deadline');
        started = true;
        const out = await fn({
          async query<R>(sql: string, params?: readonly unknown[]) {
            noteSqlStatement();
            const r = await bound(t.query<R>(sql, params as unknown[] | undefined, options));
            return { rows: r.rows, rowCount: Math.max(r.affectedRows ?? 0, r.rows.length) };
          },
          async exec(sql: string) {
            await bound(t.exec(sql));
          },
        });
        noteSqlStatement();
        return out;
      });
      if (!deadlineMs) return run;
      run.catch(() => {});
      let timer: NodeJS.Timeout | undefined;
      const waitForStart = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          if (started) return;
          abandoned = true;
          reject(new TimeoutError(`PGlite: no connection within ${deadlineMs} ms`));
        }, deadlineMs);
        timer.unref();
      });
      return Promise.race([run, waitForStart]).finally(() => clearTimeout(timer));
    },
    async exec(sql: string) {
      await bound(lite.exec(sql));
    },
    async session() {
      throw new Error('PGlite is one session: session() is for a server (use transaction())');
    },
    async listen(channel, onNotify) {
      return lite.listen(channel, onNotify);
    },
    withDeadline: (ms: number) => view(lite, state, ms),
    poolStats() {
      return { total: 1, idle: 1, waiting: 0 };
    },
    async close() {
      if (state.closed) return;
      state.closed = true;
      await lite.close();
    },
  };
}
