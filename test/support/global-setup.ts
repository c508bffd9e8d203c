import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../src/canonical/migrations.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import type { Db } from '../../src/sql/db.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { ensureBuilt } from './build.ts';
import { adminQuery, databaseUrl } from './databases.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Databases on the server that scratch databases are copied from (CREATE DATABASE … TEMPLATE). */
    templates: { canonical: string; projections: string };
  }
}

/**
 * The CLI's compiled build is brought up to date (tests spawn it). On a PostgreSQL server:
 * migrate once, into template databases, instead of in every
 * scratch database (a copy costs a fraction of the migrations). Migrating also creates the
 * roles, which are cluster-wide, before parallel test files need them. Dropped at the end.
 */
export default async function setup(project: TestProject) {
  ensureBuilt();
  const server = project.config.env?.TEST_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!server) return;
  const tag = randomBytes(4).toString('hex');
  const templates = { canonical: `asora_tpl_c_${tag}`, projections: `asora_tpl_p_${tag}` };
  const build = async (name: string, init: (db: Db) => Promise<unknown>) => {
    await adminQuery(`CREATE DATABASE ${name}`, server);
    const db = createPgDb(databaseUrl(server, name), { max: 1 });
    try {
      await init(db);
    } finally {
      await db.close();
    }
  };
  await Promise.all([
    build(templates.canonical, migrate),
    build(templates.projections, (db) => createEmbeddedStore(db, { definitions: containerDefs })),
  ]);
  project.provide('templates', templates);
  return async () => {
    for (const name of Object.values(templates))
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, server);
  };
}
