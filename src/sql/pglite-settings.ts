/**
 * postgresql.conf settings for PGlite in an embedded workload: one connection, a small data
 * set, a small VM. PostgreSQL's defaults (128 MB shared_buffers) are sized for a server,
 * and PGlite's WASM heap holds all of it. PGLITE_SETTINGS overrides them one by one.
 */
export const EMBEDDED_PGLITE_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '16MB',
  temp_buffers: '2MB',
  work_mem: '4MB',
  maintenance_work_mem: '32MB',
  wal_buffers: '1MB',
};

/** Schema of the embedded projection tables when they share canonical's PGlite database. */
export const SHARED_PROJECTIONS_SCHEMA = 'asora_projections';
