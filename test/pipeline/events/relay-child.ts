/**
 * A relay process for the crash test: applies every event it claims with the real
 * handlers, reports it on stdout, then hangs before acknowledging, until the test kills
 * it with SIGKILL. Usage: node --import tsx relay-child.ts <canonicalUrl> <projectionsUrl>
 */
import { createRelay } from '../../../src/outbox/relay.ts';
import { createEventApplier } from '../../../src/pipeline/apply-event.ts';
import { createEmbeddedStore } from '../../../src/projections/embedded/store.ts';
import { containerDefs } from '../../../src/readmodel/containers.ts';
import { createPgDb } from '../../../src/sql/pg.ts';
import { pipelineContext } from '../../support/pipeline.ts';

const [canonicalUrl, projectionsUrl] = process.argv.slice(2);
if (!canonicalUrl || !projectionsUrl)
  throw new Error('usage: relay-child <canonicalUrl> <projectionsUrl>');
const db = createPgDb(canonicalUrl, { max: 4 });
const store = await createEmbeddedStore(createPgDb(projectionsUrl, { max: 4 }), {
  definitions: containerDefs,
});
const apply = createEventApplier(pipelineContext(db, store));
const relay = createRelay({
  db,
  workerId: 'child',
  listen: false,
  pollIntervalMs: 20,
  concurrency: 4,
  apply: async (event) => {
    await apply(event);
    process.stdout.write(`applied ${event.id}\n`);
    await new Promise(() => {}); // never acknowledges: killed here
  },
});
relay.start();
process.stdout.write('ready\n');
