import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archiveAudit } from '../../src/archive/audit.ts';
import { createBlobStore } from '../../src/archive/blob-store.ts';
import { createDirectoryStore } from '../../src/archive/directory-store.ts';
import { manifestKey, unpack } from '../../src/archive/format.ts';
import type { ObjectStore } from '../../src/archive/object-store.ts';
import { archivePosts, restorePost } from '../../src/archive/posts.ts';
import { type ApiHarness, call, register, startApi, type TestUser } from '../api/harness.ts';
import { startAzurite } from '../support/azurite.ts';
import { engineName } from '../support/databases.ts';

/**
 * Archival end to end on each cold store (a directory; Azure Blob on Azurite): posts older
 * than the cut-off leave posts_v2, feeds, listings and discovery, stay readable by id and in
 * the export, and come back on restore; a run that dies half-way leaves every post either
 * hot or archived with a readable copy.
 */
const backends: [string, () => Promise<{ store: ObjectStore; close(): Promise<void> }>][] = [
  [
    'directory',
    async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'asora-archive-'));
      return {
        store: createDirectoryStore(dir),
        close: () => rm(dir, { recursive: true, force: true }),
      };
    },
  ],
  [
    'azure blob (Azurite)',
    async () => {
      const azurite = await startAzurite();
      return {
        store: createBlobStore({
          connectionString: azurite.connectionString,
          container: `archive-${randomBytes(4).toString('hex')}`,
        }),
        close: () => azurite.stop(),
      };
    },
  ],
];

const YEAR_MS = 365 * 86_400_000;
const ids = (r: { body: { items: { id: string }[] } }) => r.body.items.map((p) => p.id);

describe.each(backends)(`archival on %s (${engineName})`, (_name, open) => {
  let h: ApiHarness;
  let cold: { store: ObjectStore; close(): Promise<void> };
  let alice: TestUser;
  let bob: TestUser;
  const old: string[] = [];
  let recent: string;

  const deps = () => ({ db: h.canon.db, objects: cold.store });

  async function postAs(u: TestUser, text: string, tags?: string[]) {
    const r = await call(h, 'POST', '/v1/posts', { token: u.token, body: { text, tags } });
    expect(r.status).toBe(201);
    return r.body.id as string;
  }

  /** Moves a post's creation time back (as the database owner), in canonical only. */
  const age = (id: string, days: number) =>
    h.canon.db.query(
      `UPDATE posts SET created_at = now() - $2::int * interval '1 day' WHERE id = $1`,
      [id, days],
    );

  async function hotOrArchived(postIds: string[]) {
    const { rows } = await h.canon.db.query<{
      id: string;
      text: string | null;
      archive_key: string | null;
      sha256: string | null;
    }>(
      `SELECT p.id, p.text, p.archive_key, f.sha256 FROM posts p
         LEFT JOIN archive_files f ON f.key = p.archive_key WHERE p.id = ANY($1::uuid[])`,
      [postIds],
    );
    expect(rows).toHaveLength(postIds.length);
    for (const r of rows) {
      if (r.archive_key === null) {
        expect(r.text, `${r.id} is hot`).toBeTruthy();
        continue;
      }
      expect(r.text, `${r.id} is archived`).toBeNull();
      const body = (await cold.store.get(r.archive_key)) as Buffer;
      expect(body, `${r.id}'s file exists`).toBeDefined();
      const records = unpack<{ id: string; text: string }>(r.archive_key, body, r.sha256 as string);
      expect(records.find((p) => p.id === r.id)?.text).toBeTruthy();
    }
    return rows;
  }

  beforeAll(async () => {
    cold = await open();
    h = await startApi({ archive: cold.store });
    [alice, bob] = (await Promise.all(['alice', 'bob'].map((n) => register(h, n)))) as [
      TestUser,
      TestUser,
    ];
    expect(
      (await call(h, 'PUT', `/v1/users/${alice.id}/follow`, { token: bob.token })).status,
    ).toBe(204);
    old.push(await postAs(alice, 'from long ago', ['history']));
    old.push(await postAs(alice, 'also old', ['history']));
    recent = await postAs(alice, 'fresh', ['history']);
    await age(old[0]!, 400);
    await age(old[1]!, 440); // another month: another file
    await h.drain();
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(ids(feed)).toEqual(expect.arrayContaining([...old, recent]));
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    await cold?.close();
  }, 120_000);

  it('archives old posts into month-partitioned gzip files with manifests; canonical keeps a pointer', {
    timeout: 120_000,
  }, async () => {
    const r = await archivePosts(deps(), { before: new Date(Date.now() - YEAR_MS) });
    expect(r.items).toBe(2);
    expect(r.files).toHaveLength(2);
    for (const key of r.files) {
      expect(key).toMatch(/^posts\/\d{4}\/\d{2}\/[0-9a-f]{20}\.jsonl\.gz$/);
      const manifest = JSON.parse(((await cold.store.get(manifestKey(key))) as Buffer).toString());
      expect(manifest).toMatchObject({ key, kind: 'posts', items: 1 });
      expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    const rows = await hotOrArchived([...old, recent]);
    expect(
      rows
        .filter((x) => x.archive_key)
        .map((x) => x.id)
        .sort(),
    ).toEqual([...old].sort());
    // Nothing left to do: a second run archives nothing.
    expect((await archivePosts(deps(), { before: new Date(Date.now() - YEAR_MS) })).items).toBe(0);
    await h.drain();
  });

  it('still answers GET /v1/posts/:id from cold storage', { timeout: 120_000 }, async () => {
    const r = await call(h, 'GET', `/v1/posts/${old[0]}`, { token: bob.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: old[0], text: 'from long ago', status: 'published' });
  });

  it('takes archived posts out of feeds, listings and discovery', {
    timeout: 120_000,
  }, async () => {
    const feed = await call(h, 'GET', '/v1/feed', { token: bob.token });
    expect(ids(feed)).toContain(recent);
    for (const r of [
      feed,
      await call(h, 'GET', `/v1/users/${alice.id}/posts`, { token: bob.token }),
      await call(h, 'GET', '/v1/discover/posts', { token: bob.token }),
      await call(h, 'GET', '/v1/discover/posts?tag=history', { token: bob.token }),
      await call(h, 'GET', '/v1/feed', { token: alice.token }),
    ]) {
      expect(r.status).toBe(200);
      for (const id of old) expect(ids(r)).not.toContain(id);
    }
  });

  it('includes archived posts, with their text, in the export; they cannot be edited', {
    timeout: 120_000,
  }, async () => {
    const r = await call(h, 'GET', '/v1/me/export', { token: alice.token });
    expect(r.status).toBe(200);
    const posts = r.body.posts as { id: string; text: string; archivedAt?: string }[];
    expect(posts.find((p) => p.id === old[0])).toMatchObject({ text: 'from long ago' });
    expect(posts.find((p) => p.id === old[0])?.archivedAt).toBeTruthy();
    expect(posts.find((p) => p.id === recent)?.archivedAt).toBeUndefined();
    const edit = await call(h, 'PATCH', `/v1/posts/${old[0]}`, {
      token: alice.token,
      body: { text: 'changed' },
    });
    expect(edit.status).toBe(409);
    expect(edit.body.error.code).toBe('post_archived');
  });

  it('restores a post: hot again in canonical, listings and feeds', {
    timeout: 120_000,
  }, async () => {
    const s = await restorePost(deps(), old[0]!);
    expect(s.text).toBe('from long ago');
    await expect(restorePost(deps(), old[0]!)).rejects.toMatchObject({ code: 'not_archived' });
    await expect(restorePost(deps(), randomUUID())).rejects.toMatchObject({ code: 'not_found' });
    await h.drain();
    const list = await call(h, 'GET', `/v1/users/${alice.id}/posts`, { token: bob.token });
    expect(ids(list)).toContain(old[0]);
    expect(ids(list)).not.toContain(old[1]);
    const { rows } = await h.canon.db.query<{ text: string; archive_key: string | null }>(
      'SELECT text, archive_key FROM posts WHERE id = $1',
      [old[0]],
    );
    expect(rows[0]).toEqual({ text: 'from long ago', archive_key: null });
  });

  it('a run that dies half-way leaves every post hot or archived, and the next run finishes', {
    timeout: 120_000,
  }, async () => {
    const batch: string[] = [];
    for (let i = 0; i < 6; i++) {
      const id = await postAs(alice, `crash ${i}`);
      await age(id, 500 + i * 31); // six months: six files
      batch.push(id);
    }
    // The store dies after the third file and its manifest: one of the batch's months is
    // written but never committed, the rest not written at all.
    let puts = 0;
    const dying: ObjectStore = {
      ...cold.store,
      async put(key, body) {
        if (++puts > 7) throw new Error('connection reset (injected)');
        await cold.store.put(key, body);
      },
    };
    await expect(
      archivePosts({ db: h.canon.db, objects: dying }, { before: new Date(Date.now() - YEAR_MS) }),
    ).rejects.toThrow(/injected/);
    const mid = await hotOrArchived(batch);
    expect(mid.filter((r) => r.archive_key).length).toBe(3);
    const r = await archivePosts(deps(), { before: new Date(Date.now() - YEAR_MS) });
    // The three left, and the post restored above (still older than the cut-off).
    expect(r.items).toBe(4);
    const after = await hotOrArchived(batch);
    expect(after.every((x) => x.archive_key)).toBe(true);
    await h.drain();
    for (const id of batch) {
      const got = await call(h, 'GET', `/v1/posts/${id}`, { token: bob.token });
      expect(got.status).toBe(200);
      expect(got.body.text).toMatch(/^crash \d$/);
    }
  });

  it('archives old audit entries and deletes them from audit_log', {
    timeout: 120_000,
  }, async () => {
    await h.canon.db.query(
      `INSERT INTO audit_log (action, subject_type, created_at, details)
       SELECT 'test.audit', 'post', now() - (100 + g) * interval '1 day', jsonb_build_object('n', g)
         FROM generate_series(1, 40) g`,
    );
    await h.canon.db.query(
      `INSERT INTO audit_log (action, subject_type) VALUES ('test.audit', 'post')`,
    );
    const r = await archiveAudit(deps(), {
      before: new Date(Date.now() - 90 * 86_400_000),
      batchSize: 15,
    });
    expect(r.items).toBe(40);
    const { rows } = await h.canon.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM audit_log WHERE action = 'test.audit'`,
    );
    expect(rows[0]?.n).toBe(1);
    const { rows: files } = await h.canon.db.query<{ key: string; sha256: string; items: number }>(
      `SELECT key, sha256, items FROM archive_files WHERE kind = 'audit'`,
    );
    let total = 0;
    for (const f of files) {
      const records = unpack<{ details: { n: number } }>(
        f.key,
        (await cold.store.get(f.key)) as Buffer,
        f.sha256,
      );
      expect(records).toHaveLength(f.items);
      total += records.length;
    }
    expect(total).toBe(40);
  });
});
