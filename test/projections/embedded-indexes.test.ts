import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildQuery } from '../../src/projections/embedded/query-sql.ts';
import { compositeIndexes, tableName } from '../../src/projections/embedded/schema.ts';
import type { ContainerDef, Query } from '../../src/projections/port.ts';
import { containerDef } from '../../src/readmodel/containers.ts';
import { engineName } from '../support/databases.ts';
import { embeddedStore, type TestStore } from '../support/projections.ts';

/**
 * The composite indexes of containers.json are real B-tree expression indexes, and the
 * queries the adapter generates use them: a feed page is an index scan that stops after
 * the page, not a sort of the whole partition.
 */
describe(`embedded store indexes on ${engineName}`, () => {
  let s: TestStore;
  const def = (name: string) => containerDef(name) as ContainerDef;

  beforeAll(async () => {
    s = await embeddedStore();
    // Many rows in one big partition and in many small ones, then fresh statistics.
    await s.db.exec(`
      INSERT INTO proj_userfeed (pk, id, body, etag, ts, lsn, txid, feed_range)
      SELECT CASE WHEN g <= 4000 THEN 'big' ELSE 'r' || (g % 500) END, 'i' || g,
             jsonb_build_object('id', 'i' || g, 'recipientId', CASE WHEN g <= 4000 THEN 'big' ELSE 'r' || (g % 500) END,
                                'createdAt', to_char(timestamp '2024-01-01' + g * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                'text', repeat('x', 200)),
             'e', 0, g, pg_current_xact_id(), g % 4
        FROM generate_series(1, 8000) g;
      INSERT INTO proj_notifications (pk, id, body, etag, ts, lsn, txid, feed_range)
      SELECT 'big', 'n' || g, jsonb_build_object('id', 'n' || g, 'recipientId', 'big', 'read', g % 3 = 0,
                                'createdAt', to_char(timestamp '2024-01-01' + g * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
             'e', 0, g, pg_current_xact_id(), 0
        FROM generate_series(1, 4000) g;
      INSERT INTO proj_posts_v2 (pk, id, body, etag, ts, lsn, txid, feed_range)
      SELECT 'p' || g, 'p' || g,
             jsonb_build_object('id', 'p' || g, 'postId', 'p' || g, 'authorId', 'a' || (g % 300),
                                'status', CASE WHEN g % 10 = 0 THEN 'deleted' ELSE 'published' END,
                                'createdAt', to_char(timestamp '2024-01-01' + g * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
             'e', 0, g, pg_current_xact_id(), g % 4
        FROM generate_series(1, 6000) g;
      INSERT INTO proj_publicprofiles (pk, id, body, etag, ts, lsn, txid, feed_range)
      SELECT 'u' || g, 'u' || g,
             jsonb_build_object('id', 'u' || g, 'userId', 'u' || g, 'displayNameKey', 'name ' || g,
                                'privacyLevel', CASE WHEN g % 4 = 0 THEN 'private' ELSE 'public' END),
             'e', 0, g, pg_current_xact_id(), g % 4
        FROM generate_series(1, 6000) g;
      ANALYZE proj_userfeed; ANALYZE proj_notifications; ANALYZE proj_posts_v2; ANALYZE proj_publicprofiles;`);
  }, 180_000);
  afterAll(async () => {
    await s?.close();
  });

  const plan = async (container: string, q: Query): Promise<string> => {
    const b = buildQuery(def(container), q);
    const { rows } = await s.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${b.sql}`, b.params);
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };

  it("keeps no statistics of a whole body (ANALYZE's largest cost, read by no estimate), and the plans below still hold", async () => {
    const { rows } = await s.db.query<{ t: string; target: number }>(
      `SELECT c.relname AS t, a.attstattarget::int AS target
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attname = 'body' AND c.relkind = 'r' AND c.relname LIKE 'proj\\_%' ORDER BY 1`,
    );
    expect(rows.map((r) => r.t)).toContain('proj_userfeed');
    expect(rows.filter((r) => r.target !== 0)).toEqual([]);
  });

  it('creates one expression index per composite index, keyed by the partition and the sort properties', async () => {
    const { rows } = await s.db.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'proj_userfeed' AND indexname LIKE '%\\_ci\\_%'`,
    );
    expect(rows.map((r) => r.indexname)).toEqual(
      compositeIndexes(def('userFeed')).map((i) => i.name),
    );
    expect(rows[0]?.indexdef).toMatch(
      /\(pk, \(\(body ->> 'createdAt'::text\)\) COLLATE "C" DESC, id DESC\)/,
    );
    // Containers without composite indexes (counters) get none; bio is never indexed.
    const none = await s.db.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = '${tableName(def('counters'))}' AND indexdef LIKE '%body%'`,
    );
    expect(none.rows).toEqual([]);
    const bio = await s.db.query(
      `SELECT indexname FROM pg_indexes WHERE tablename = '${tableName(def('publicProfiles'))}' AND indexdef LIKE '%bio%'`,
    );
    expect(bio.rows).toEqual([]);
  });

  it('serves a userFeed page (and the next one) from the index, without sorting the partition', async () => {
    const q: Query = {
      partitionKey: 'big',
      orderBy: [
        { field: 'recipientId', direction: 'ASC' },
        { field: 'createdAt', direction: 'DESC' },
      ],
      limit: 20,
    };
    const first = await plan('userFeed', q);
    expect(first).toMatch(/Index (Only )?Scan using proj_userfeed_ci_/);
    expect(first).not.toMatch(/Sort/);
    const page = await s.store.container('userFeed').query(q);
    expect(page.items).toHaveLength(20);
    expect(page.items[0]?.createdAt).toBe('2024-01-03T18:40:00Z'); // row 4000, the newest in 'big'
    const second = await plan('userFeed', { ...q, continuation: page.continuation });
    expect(second).toMatch(/Index (Only )?Scan using proj_userfeed_ci_/);
    expect(second).not.toMatch(/Sort/);
    // The same page ordered by createdAt alone (the partition key implied) plans the same way.
    expect(
      await plan('userFeed', { ...q, orderBy: [{ field: 'createdAt', direction: 'DESC' }] }),
    ).not.toMatch(/Sort/);
  });

  it('serves unread notifications newest first from the (recipientId, read, createdAt) index', async () => {
    const p = await plan('notifications', {
      partitionKey: 'big',
      filters: [{ field: 'read', op: '=', value: false }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 20,
    });
    expect(p).toMatch(/Index (Only )?Scan using proj_notifications_ci_/);
    expect(p).not.toMatch(/Sort/);
  });

  it('serves discovery across partitions from posts_v2 (status, createdAt) and publicProfiles (privacyLevel, displayNameKey, userId)', async () => {
    const recent: Query = {
      filters: [{ field: 'status', op: '=', value: 'published' }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 20,
    };
    const first = await plan('posts_v2', recent);
    expect(first).toMatch(/Index (Only )?Scan using proj_posts_v2_ci_/);
    expect(first).not.toMatch(/Sort/);
    const page = await s.store.container('posts_v2').query(recent);
    expect(await plan('posts_v2', { ...recent, continuation: page.continuation })).not.toMatch(
      /Sort/,
    );
    const names: Query = {
      filters: [
        { field: 'privacyLevel', op: '=', value: 'public' },
        { field: 'displayNameKey', op: '>=', value: 'name 12' },
        { field: 'displayNameKey', op: '<', value: 'name 13' },
      ],
      orderBy: [
        { field: 'displayNameKey', direction: 'ASC' },
        { field: 'userId', direction: 'ASC' },
      ],
      limit: 20,
    };
    const p = await plan('publicProfiles', names);
    expect(p).toMatch(/Index (Only )?Scan using proj_publicprofiles_ci_/);
    expect(p).not.toMatch(/Sort/);
  });
});
