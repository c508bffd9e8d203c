import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.ts';
import { silentLogger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { storeError } from '../../src/projections/embedded/rows.ts';
import {
  type ProjectionContainer,
  ProjectionError,
  type ProjectionStore,
} from '../../src/projections/port.ts';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, isErrorShape, register, type TestUser } from './harness.ts';

/**
 * The real store behind a switch: containers named in `down` fail every call as an
 * unreachable store would, or with the error given for them (fault injection around the
 * real adapter, not a stand-in).
 */
function switchable(
  store: ProjectionStore,
  down: Map<string, ProjectionError | undefined>,
): ProjectionStore {
  const fail = (name: string) => {
    throw down.get(name) ?? new ProjectionError('unavailable', `${name} is unreachable (injected)`);
  };
  return {
    kind: store.kind,
    definitions: () => store.definitions(),
    provision: () => store.provision(),
    ping: () => store.ping(),
    close: async () => {},
    container(name: string): ProjectionContainer {
      const real = store.container(name);
      return new Proxy(real, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => (down.has(name) ? fail(name) : value.apply(target, args));
        },
      });
    },
  };
}

describe(`HTTP API v1 with the projection store failing (${engineName})`, () => {
  const h = useApi({ startWorkers: false });
  let app: FastifyInstance;
  let base: string;
  let alice: TestUser;
  let bob: TestUser;
  const down = new Map<string, ProjectionError | undefined>();
  const via = (method: string, path: string, opts: Parameters<typeof call>[3] = {}) =>
    call({ ...h, base }, method, path, opts);

  beforeAll(async () => {
    // The relay starts only when a test wants the repair: it must not write posts_v2 while
    // the test still checks that the direct write failed.
    app = await buildApp({
      ctx: { ...h.ctx, store: switchable(h.proj.store, down) },
      jwtSecret: 'test-secret-test-secret-test-secret-1234',
      log: silentLogger,
      metrics: new Metrics(),
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    alice = await register(h, 'alice');
    bob = await register(h, 'bob');
    expect(
      (await call(h, 'PUT', `/v1/users/${alice.id}/follow`, { token: bob.token })).status,
    ).toBe(204);
  }, 300_000);
  afterAll(async () => {
    await app?.close();
  });

  it('a post still succeeds when the direct posts_v2 write fails; the relay repairs it', async () => {
    down.set('posts_v2', undefined);
    const created = await via('POST', '/v1/posts', {
      token: alice.token,
      body: { text: 'written while posts_v2 is down' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const { rows } = await h.canon.db.query(
      `SELECT 1 FROM outbox WHERE event_type = 'post.created' AND aggregate_id = $1`,
      [id],
    );
    expect(rows).toHaveLength(1);
    expect((await h.proj.store.container('posts_v2').read(id, id)).resource).toBeUndefined();
    down.clear();
    // Read-after-write for the author comes from canonical even before the relay ran.
    const own = await via('GET', '/v1/feed', { token: alice.token });
    expect(own.body.items.map((p: { id: string }) => p.id)).toContain(id);
    await h.workers.start();
    await h.drain();
    expect((await h.proj.store.container('posts_v2').read(id, id)).resource).toMatchObject({
      postId: id,
    });
    const feed = await via('GET', '/v1/feed', { token: bob.token });
    expect(feed.body.items.map((p: { id: string }) => p.id)).toEqual([id]);
  }, 120_000);

  it('reads answer 503 in the error shape while the store is down, never 500', async () => {
    for (const c of [
      'userFeed',
      'posts_v2',
      'counters',
      'notifications',
      'publicProfiles',
      'reactions',
    ])
      down.set(c, undefined);
    try {
      for (const path of [
        '/v1/feed',
        '/v1/notifications',
        `/v1/users/${alice.id}/profile`,
        `/v1/users/${alice.id}/posts`,
      ]) {
        const r = await via('GET', path, { token: bob.token });
        expect(r.status, path).toBe(503);
        expect(isErrorShape(r.body)).toBe(true);
      }
    } finally {
      down.clear();
    }
    expect((await via('GET', '/v1/feed', { token: bob.token })).status).toBe(200);
  }, 120_000);

  it('a request the store refuses is a 400 invalid_input, never 500', async () => {
    const refusals = [
      new ProjectionError('bad_request', 'continuation token does not belong to this query'),
      // What the embedded store makes of a value PostgreSQL cannot hold.
      storeError(
        Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), {
          code: '22021',
        }),
      ),
    ];
    for (const refusal of refusals) {
      down.set('notifications', refusal);
      try {
        const r = await via('GET', '/v1/notifications', { token: bob.token });
        expect(r.status, refusal.message).toBe(400);
        expect(r.body.error.code).toBe('invalid_input');
      } finally {
        down.clear();
      }
    }
  }, 120_000);
});
