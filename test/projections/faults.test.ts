import https from 'node:https';
import { describe, expect, it } from 'vitest';
import { createCosmosStore } from '../../src/projections/cosmos/store.ts';
import { createEmbeddedStore } from '../../src/projections/embedded/store.ts';
import { type ContainerDef, isProjectionError } from '../../src/projections/port.ts';
import { containerDefs } from '../../src/readmodel/containers.ts';
import { createPgDb } from '../../src/sql/pg.ts';
import { engineName, scratchDb, serverUrl } from '../support/databases.ts';
import { embeddedStore } from '../support/projections.ts';
import { expectError } from './contract.ts';

/** Store down, sweeper: failures are typed ('unavailable'), never unhandled. */
describe(`faults and background work (${engineName})`, () => {
  it('an unreachable PostgreSQL projection store fails with unavailable, and nothing is left dangling', async () => {
    const db = createPgDb('postgres://nobody@127.0.0.1:1/none', { max: 1 });
    try {
      await expectError(createEmbeddedStore(db, { definitions: containerDefs }), 'unavailable'); // provisioning at start cannot reach it
    } finally {
      await db.close();
    }
  });

  it.skipIf(!serverUrl)(
    `calls on a store whose database went away fail with unavailable${serverUrl ? '' : ' (skipped: needs TEST_DATABASE_URL; the shared PGlite instance cannot be closed)'}`,
    async () => {
      const scratch = await scratchDb();
      const store = await createEmbeddedStore(scratch.db, { definitions: containerDefs });
      await scratch.close(); // pool ended and database dropped
      await expectError(store.ping(), 'unavailable');
      await expectError(store.container('userFeed').read('a', 'b'), 'unavailable');
      await expectError(
        store.container('userFeed').upsert({ id: 'a', recipientId: 'b' }),
        'unavailable',
      );
    },
  );

  it('an unreachable Cosmos endpoint fails with unavailable', { timeout: 60_000 }, async () => {
    const agent = new https.Agent({ rejectUnauthorized: false });
    const store = await createCosmosStore({
      endpoint: 'https://127.0.0.1:1',
      key: 'x',
      database: 'd',
      agent,
      endpointDiscovery: false,
      definitions: containerDefs,
    });
    try {
      await expectError(store.ping(), 'unavailable');
      const err = await store
        .container('userFeed')
        .read('a', 'b')
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(isProjectionError(err, 'unavailable'), String(err)).toBe(true);
    } finally {
      await store.close();
      agent.destroy();
    }
  });

  it('a string PostgreSQL cannot hold (NUL) is bad_request on every write path, and nothing is written', async () => {
    const s = await embeddedStore();
    try {
      const feed = s.store.container('userFeed');
      const doc = { id: 'r:p', recipientId: 'r', postId: 'p', text: 'a\u0000b' };
      await expectError(feed.upsert(doc), 'bad_request');
      await expectError(feed.bulk([{ op: 'upsert', doc }]), 'bad_request');
      await expectError(
        feed.bulk([{ op: 'upsert', doc }], { ifNewer: 'sourceVersion' }),
        'bad_request',
      );
      await expectError(
        feed.upsertCopies([{ doc, targets: [{ id: 'r:p', partitionKey: 'r' }] }]),
        'bad_request',
      );
      expect((await feed.read('r:p', 'r')).resource).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('the sweeper deletes expired rows (reads hid them already) and keeps live ones', {
    timeout: 180_000,
  }, async () => {
    const defs: ContainerDef[] = [
      {
        name: 'sweepMe',
        partitionKey: '/k',
        defaultTtl: 1,
        indexingPolicy: {
          indexingMode: 'consistent',
          includedPaths: [{ path: '/*' }],
          excludedPaths: [],
        },
      },
    ];
    const s = await embeddedStore({ definitions: defs });
    try {
      const c = s.store.container('sweepMe');
      await c.upsert({ id: 'old', k: 'a' });
      await c.upsert({ id: 'kept', k: 'a', ttl: -1 });
      await new Promise((r) => setTimeout(r, 1200));
      expect((await c.read('old', 'a')).resource).toBeUndefined();
      expect((await s.db.query('SELECT id FROM proj_sweepme')).rows).toHaveLength(2);
      expect(await s.store.sweepExpired()).toBe(1);
      expect(
        (await s.db.query<{ id: string }>('SELECT id FROM proj_sweepme')).rows.map((r) => r.id),
      ).toEqual(['kept']);
      expect(await s.store.sweepExpired()).toBe(0);
    } finally {
      await s.close();
    }
  });
});
