import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { citext } from '@electric-sql/pglite/contrib/citext';
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto';
import pg from 'pg';
import { expect, inject } from 'vitest';
import { migrate } from '../../src/canonical/migrations.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { createPgliteDb, wrapPglite } from '../../src/sql/pglite.ts';

/**
 * Test databases. Default: PGlite in memory (no server needed). With TEST_DATABASE_URL
 * set (CI's second engine), each call creates its own scratch database on that server and
 * drops it on close, so suites run in parallel without sharing rows; migrated ones are
 * copied from the template that global setup migrated once (see global-setup.ts).
 */
export const serverUrl = process.env.TEST_DATABASE_URL || undefined;
export const engineName = serverUrl ? 'postgresql-server' : 'pglite';

export interface ScratchDb {
  db: Db;
  /** Connection URL when on a server (for a second pool, LISTEN, or a child process). */
  url?: string;
  close(): Promise<void>;
}

/** A PostgreSQL server even on the PGlite pass (tests of network faults need a real socket). */
export const anyServerUrl = serverUrl ?? 'postgres://postgres@127.0.0.1:5432/test';

export function databaseUrl(server: string, name: string): string {
  const u = new URL(server);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function adminQuery(sql: string, server = serverUrl!): Promise<void> {
  const client = new pg.Client({ connectionString: server });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * An empty database (no migrations), or on a server a copy of `template`. `server` picks a
 * server even on the PGlite pass (templates exist only on TEST_DATABASE_URL's server).
 */
export async function scratchDb(
  opts: { poolMax?: number; template?: string; server?: string } = {},
): Promise<ScratchDb> {
  const server = opts.server ?? serverUrl;
  if (!server) {
    const db = await createPgliteDb();
    return { db, close: () => db.close() };
  }
  const name = `asora_t_${randomBytes(6).toString('hex')}`;
  const template = opts.template && server === serverUrl ? ` TEMPLATE ${opts.template}` : '';
  await adminQuery(`CREATE DATABASE ${name}${template}`, server);
  const url = databaseUrl(server, name);
  const db = createPgDb(url, { max: opts.poolMax ?? 5 });
  return {
    db,
    url,
    async close() {
      await db.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, server);
    },
  };
}

/** Empties every table (but keeps the schema, schema_migrations and the migration-made decoy key). */
export async function truncateAll(db: Db): Promise<void> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT quote_ident(tablename) AS name FROM pg_tables
      WHERE schemaname = 'public' AND tablename NOT IN ('schema_migrations', 'auth_decoy_key')`,
  );
  if (rows.length > 0) {
    await db.exec(`TRUNCATE ${rows.map((r) => r.name).join(', ')} RESTART IDENTITY CASCADE`);
  }
}

const shared = new Map<string, Promise<Db>>();

/**
 * A PGlite instance kept for the whole test worker (vitest runs with isolate: false):
 * starting PGlite costs seconds, so tests share one per purpose and reset it instead.
 */
export function sharedPglite(key: string, init: (db: Db) => Promise<void>): Promise<Db> {
  let p = shared.get(key);
  if (!p) {
    p = (async () => {
      const lite = await PGlite.create({ extensions: { citext, pgcrypto } });
      const db = wrapPglite(lite);
      await init(db);
      return db;
    })();
    shared.set(key, p);
  }
  return p;
}

/**
 * A database with every canonical migration applied and no rows. On PGlite it is the
 * worker's shared instance, emptied; on a server a fresh copy of the migrated template.
 */
export async function canonicalDb(opts: { poolMax?: number } = {}): Promise<ScratchDb> {
  if (serverUrl) return scratchDb({ ...opts, template: inject('templates').canonical });
  const db = await sharedPglite('canonical', async (d) => {
    await migrate(d);
  });
  await truncateAll(db);
  return { db, close: async () => {} };
}

/** Resolves once some session waits for a lock on `table` (its DDL is queued). */
export async function someoneWaitsOn(db: Db, table: string): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted`,
            [table],
          )
        ).rows[0]!.n,
      { timeout: 5_000, interval: 20 },
    )
    .toBeGreaterThan(0);
}
