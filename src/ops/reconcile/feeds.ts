import { asWorker } from '../../canonical/session.ts';
import { feedEligiblePosts, feedPostsOf } from '../../canonical/tables/posts.ts';
import { liveUserIds } from '../../canonical/tables/users.ts';
import { iso } from '../../canonical/time.ts';
import { isUuid } from '../../ids.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { readFeed } from '../../pipeline/feed-trim.ts';
import { regenerateUserFeed } from '../../pipeline/regenerate-feed.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import type { Drift, KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

/** Fan-out trims a feed by sampling, so it may briefly exceed the cap by about this much. */
const CAP_SLACK = 50;

/** One recipient's feed against canonical follows, blocks, mutes and posts. */
export async function checkFeed(ctx: ReconcileContext, userId: string): Promise<Drift | undefined> {
  const feed = ctx.store.container(CONTAINERS.userFeed);
  const items = await readFeed(feed, userId);

  return asWorker(ctx.readDb, async (tx) => {
    // The same rules as regenerateUserFeed; `due` = owed by fan-out (older posts of a new
    // followee arrive only by best-effort backfill).
    const want = await feedPostsOf(tx, userId, ctx.feedCap, ctx.fanoutFollowerThreshold);
    const wantById = new Map(want.map((w) => [w.id, w]));
    const have = new Map(items.map((i) => [i.postId, i]));
    const outside = items.filter((i) => !wantById.has(i.postId));
    const ok = await feedEligiblePosts(
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
  const userIds = await asWorker(ctx.readDb, (tx) => liveUserIds(tx, opts.feedSample));
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
