import type { Queryable } from '../../sql/db.ts';
import { createPgliteDb } from '../../sql/pglite.ts';
import { MIGRATIONS_DIR, migrate } from '../migrations.ts';
import { type Catalog, snapshotCatalog } from './catalog.ts';
import { type Drift, diffCatalogs } from './diff.ts';

const expectedByDir = new Map<string, Promise<Catalog>>();

/**
 * The catalog the migrations produce: applied to a scratch in-memory PGlite. Kept per
 * process and migrations folder, since starting PGlite costs seconds. The catalog
 * snapshot leaves out what legitimately differs between PGlite and a PostgreSQL 15+
 * server (extension versions, the owner's own privileges).
 */
export function expectedCatalog(dir = MIGRATIONS_DIR): Promise<Catalog> {
  let p = expectedByDir.get(dir);
  if (!p) {
    p = (async () => {
      const scratch = await createPgliteDb();
      try {
        await migrate(scratch, dir);
        return await snapshotCatalog(scratch);
      } finally {
        await scratch.close();
      }
    })();
    // A failure (e.g. a broken migration) must not be cached for the next caller.
    p.catch(() => expectedByDir.delete(dir));
    expectedByDir.set(dir, p);
  }
  return p;
}

export interface VerifyResult {
  drift: Drift[];
  /** Objects compared on each side. */
  expectedObjects: number;
  actualObjects: number;
  /** Rows in the live schema_migrations (0 for a never-migrated database). */
  appliedMigrations: number;
}

/** Compares the live database (an owner connection) with what the migrations produce. */
export async function verifySchema(db: Queryable, dir = MIGRATIONS_DIR): Promise<VerifyResult> {
  const [expected, actual] = await Promise.all([expectedCatalog(dir), snapshotCatalog(db)]);
  return {
    drift: diffCatalogs(expected, actual),
    expectedObjects: expected.size,
    actualObjects: actual.size,
    appliedMigrations: [...actual.values()].filter((o) => o.kind === 'migration').length,
  };
}
