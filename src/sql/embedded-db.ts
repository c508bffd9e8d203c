import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import type { Db } from './db.ts';
import { createPgliteDb } from './pglite.ts';
import { SHARED_PROJECTIONS_SCHEMA } from './pglite-settings.ts';

/**
 * The embedded canonical database (PGlite in DATA_DIR/canonical). The embedded projection
 * store keeps its tables in a schema of the same database (one WASM PostgreSQL, not two),
 * found through the search_path; see docs/projections.md.
 */
export async function openEmbeddedCanonical(config: Config): Promise<Db> {
  const dir = path.join(config.dataDir, 'canonical');
  await mkdir(dir, { recursive: true });
  return createPgliteDb(dir, {
    settings: {
      ...config.pgliteSettings,
      search_path: `public,${SHARED_PROJECTIONS_SCHEMA}`,
    },
  });
}
