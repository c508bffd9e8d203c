import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Config, ConfigError } from '../config/config.ts';
import type { Db } from './db.ts';
import { createPgliteDb } from './pglite.ts';
import { EMBEDDED_PGLITE_SETTINGS, SHARED_PROJECTIONS_SCHEMA } from './pglite-settings.ts';

/**
 * The embedded canonical database (PGlite in DATA_DIR/canonical). The embedded projection
 * store keeps its tables in a schema of the same database (one WASM PostgreSQL, not two),
 * found through the search_path; see docs/projections.md.
 */
export async function openEmbeddedCanonical(config: Config): Promise<Db> {
  return openConfiguredPglite(config, path.join(config.dataDir, 'canonical'), {
    search_path: `public,${SHARED_PROJECTIONS_SCHEMA}`,
  });
}

/**
 * A PGlite database in dir with the configured settings (PGLITE_SETTINGS over the embedded
 * defaults). PostgreSQL refusing a setting only says "PGlite failed to initialize properly":
 * then each PGLITE_SETTINGS pair is tried alone, and the ones refused are reported as a
 * configuration error naming the variable.
 */
export async function openConfiguredPglite(
  config: Config,
  dir: string,
  extra: Record<string, string> = {},
): Promise<Db> {
  await mkdir(dir, { recursive: true });
  const settings = { ...config.pgliteSettings, ...extra };
  try {
    return await createPgliteDb(dir, { settings });
  } catch (err) {
    if (!(err instanceof Error && /failed to initialize/.test(err.message))) throw err;
    const given = Object.entries(config.pgliteSettings).filter(
      ([k, v]) => EMBEDDED_PGLITE_SETTINGS[k] !== v,
    );
    const base = { ...EMBEDDED_PGLITE_SETTINGS, ...extra };
    const starts = async (s: Record<string, string>) =>
      createPgliteDb(dir, { settings: s }).then(
        (db) => db.close().then(() => true),
        () => false,
      );
    const refused: string[] = [];
    for (const [k, v] of given) if (!(await starts({ ...base, [k]: v }))) refused.push(`${k}=${v}`);
    // Every pair refused may mean PGlite fails whatever the settings: not theirs to blame then.
    if (refused.length === 0 || (refused.length === given.length && !(await starts(base))))
      throw err;
    throw new ConfigError(
      `invalid configuration:\n  PGLITE_SETTINGS: PostgreSQL refuses ${refused.join(', ')} (an unknown setting or a bad value)`,
    );
  }
}
