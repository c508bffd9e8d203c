import { asWorker } from '../../canonical/session.ts';
import { FEED_AUTHORS_CTE } from '../../canonical/tables/follows.ts';
import { isUuid } from '../../ids.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { readFeed } from '../../pipeline/feed-trim.ts';
import { regenerateUserFeed } from '../../pipeline/regenerate-feed.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import type { Queryable } from '../../sql/db.ts';
import type { Drift, KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

/** Fan-out trims a feed by sampling, so it may briefly exceed the cap by about this much. */
const CAP_SLACK = 50;

/**
 * The authors whose published posts a recipient's feed may hold, with the time from which
 * each author's posts were due by fan-out (own posts: always; a followee: since the
 * follow, older ones arrive only by best-effort backfill). The same rules as
 * regenerateUserFeed: no block either way, not muted, account live, author under the
 * fan-out threshold (popular authors are merged at read time).
 */
interface Wanted {
  id: string;
  version: number;
  created_at: Date | string;
  due: boolean;
}

const iso = (v: Date | string) => (v instanceof Date ? v : new Date(v)).toISOString();

async function wanted(
  tx: Queryable,
  userId: string,
  cap: number,
  threshold: number,
): Promise<Wanted[]> {
  const { rows } = await tx.query<Wanted>(
    `WITH ${FEED_AUTHORS_CTE}
     SELECT p.id::text, p.version, p.created_at, p.created_at >= a.since AS due
       FROM authors a JOIN posts p ON p.author_id = a.id
      WHERE p.status = 'published' AND p.deleted_at IS NULL AND p.archived_at IS NULL
      ORDER BY p.created_at DESC, p.id DESC
      LIMIT $2`,
    [userId, cap, threshold],
  );
  return rows;
}

/** Which of these post ids the recipient may see at all (beyond the cap included). */
async function eligible(
  tx: Queryable,
  userId: string,
  threshold: number,
  postIds: string[],
): Promise<Set<string>> {
  const { rows } = await tx.query<{ id: string }>(
    `WITH ${FEED_AUTHORS_CTE}
     SELECT p.id::text FROM authors a JOIN posts p ON p.author_id = a.id
      WHERE p.status = 'published' AND p.deleted_at IS NULL AND p.archived_at IS NULL AND p.id = ANY($2::uuid[])`,
    [userId, postIds, threshold],
  );
  return new Set(rows.map((r) => r.id));
}

/** One recipient's feed against canonical follows, blocks, mutes and posts. */
export async function checkFeed(ctx: ReconcileContext, userId: string): Promise<Drift | undefined> {
  const feed = ctx.store.container(CONTAINERS.userFeed);
  const items = await readFeed(feed, userId);

  return asWorker(ctx.readDb, async (tx) => {
    const want = await wanted(tx, userId, ctx.feedCap, ctx.fanoutFollowerThreshold);
    const wantById = new Map(want.map((w) => [w.id, w]));
    const have = new Map(items.map((i) => [i.postId, i]));
    const outside = items.filter((i) => !wantById.has(i.postId));
    const ok = await eligible(
      tx,
      userId,
      ctx.fanoutFollowerThreshold,
      outside.map((i) => i.postId).filter(isUuid),
    );
    const stray = outside.filter((i) => !ok.has(i.postId)).map((i) => i.postId);
    const stale = want
      .filter((w) => have.has(w.id) && Number(have.get(w.id)!.sourceVersion) < Number(w.version))
      .map((w) => w.id);
    // A due post is missing unless the feed is full and the post is older than all it holds.
    const full = items.length >= ctx.feedCap;
    const oldest = items.at(-1)?.createdAt ?? '';
    const missing = want
      .filter((w) => w.due && !have.has(w.id) && (!full || iso(w.created_at) >= oldest))
      .map((w) => w.id);
    const overCap = items.length > ctx.feedCap + CAP_SLACK ? items.length - ctx.feedCap : 0;
    const problems = [
      stray.length && 'stray_items',
      missing.length && 'missing_items',
      stale.length && 'stale_items',
      overCap && 'over_cap',
    ].filter((p): p is string => typeof p === 'string');
    if (problems.length === 0) return undefined;
    return {
      kind: 'feeds' as const,
      id: userId,
      problem: problems.join(','),
      detail: {
        items: items.length,
        stray: stray.slice(0, 10),
        missing: missing.slice(0, 10),
        stale: stale.slice(0, 10),
        counts: { stray: stray.length, missing: missing.length, stale: stale.length, overCap },
      },
    };
  });
}

/**
 * userFeed membership: each checked recipient's feed holds no item canonical data rules
 * out (unfollowed, blocked, muted, deleted or moderated posts), no outdated copy, and
 * every post that fan-out should have delivered (newest first, within the cap). Repair
 * runs regenerateUserFeed for each drifting recipient.
 */
export async function reconcileFeeds(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
): Promise<KindReport> {
  const userIds = await asWorker(ctx.readDb, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      opts.feedSample === undefined
        ? 'SELECT id::text FROM users WHERE deleted_at IS NULL ORDER BY id'
        : 'SELECT id::text FROM users WHERE deleted_at IS NULL ORDER BY random() LIMIT $1',
      opts.feedSample === undefined ? [] : [opts.feedSample],
    );
    return rows.map((r) => r.id);
  });
  const report: KindReport = { checked: 0, drift: [], repaired: 0 };
  await forEachLimited(userIds, 4, async (userId) => {
    const d = await checkFeed(ctx, userId);
    if (d) report.drift.push(d);
    report.checked++;
    opts.onProgress?.('feeds', report.checked, userIds.length);
  });
  if (opts.repair) {
    await forEachLimited(report.drift, 4, async (d) => {
      await regenerateUserFeed(ctx, d.id);
      report.repaired++;
    });
  }
  return report;
}
