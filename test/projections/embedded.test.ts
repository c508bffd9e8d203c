import { engineName } from '../support/databases.ts';
import { embeddedStore } from '../support/projections.ts';
import { projectionContract } from './contract.ts';

// The embedded adapter: PGlite by default, the PostgreSQL server with TEST_DATABASE_URL.
projectionContract(`embedded on ${engineName}`, (opts) => embeddedStore(opts));
