import type { BenchPlatform } from './platform.ts';

/**
 * n follower accounts following `authorId`, written straight into canonical (no events:
 * fan-out reads followers from canonical `follows`, which is all a post's delivery needs).
 */
export async function addFollowers(bp: BenchPlatform, authorId: string, n: number): Promise<void> {
  const db = bp.ownerDb;
  for (let done = 0; done < n; done += 5_000) {
    const k = Math.min(5_000, n - done);
    await db.query(
      `WITH u AS (INSERT INTO users (email)
                  SELECT 'bench-f-' || gen_random_uuid() || '@bench.test' FROM generate_series(1, $1) RETURNING id)
       INSERT INTO follows (follower_id, followee_id) SELECT id, $2 FROM u`,
      [k, authorId],
    );
  }
  await db.exec('ANALYZE follows');
}

export async function followersOf(bp: BenchPlatform, authorId: string): Promise<string[]> {
  const { rows } = await bp.ownerDb.query<{ id: string }>(
    'SELECT follower_id::text AS id FROM follows WHERE followee_id = $1',
    [authorId],
  );
  return rows.map((r) => r.id);
}

/** POST /v1/posts as the author; resolves to the post id and the time the request was sent. */
export async function postAs(
  bp: BenchPlatform,
  token: string,
  text: string,
): Promise<{ id: string; sentAt: number }> {
  const sentAt = performance.now();
  const res = await fetch(`${bp.baseUrl}/v1/posts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ text }),
  });
  if (res.status !== 201) throw new Error(`POST /v1/posts: HTTP ${res.status} ${await res.text()}`);
  return { id: ((await res.json()) as { id: string }).id, sentAt };
}
