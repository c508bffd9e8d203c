import { reconcileCounters } from './counters.ts';
import { reconcileFeeds } from './feeds.ts';
import { reconcilePosts } from './posts.ts';
import { reconcileProfiles } from './profiles.ts';
import {
  type KindReport,
  PROJECTION_KINDS,
  type ProjectionKind,
  type ReconcileContext,
  type ReconcileOptions,
  type ReconcileReport,
} from './types.ts';

export * from './types.ts';

const RUNNERS: Record<
  ProjectionKind,
  (ctx: ReconcileContext, opts: ReconcileOptions) => Promise<KindReport>
> = {
  posts: reconcilePosts,
  feeds: reconcileFeeds,
  counters: reconcileCounters,
  profiles: reconcileProfiles,
};

/**
 * Compares the projections with canonical data and, with `repair`, writes each drifted
 * document back to canonical truth. Posts run first: feed repair reads canonical, but a
 * repaired posts_v2 document also drives fan-out through the change feed.
 */
export async function reconcile(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
): Promise<ReconcileReport> {
  const kinds = opts.kinds ?? PROJECTION_KINDS;
  const empty = (): KindReport => ({ checked: 0, drift: [], repaired: 0 });
  const report: ReconcileReport = {
    posts: empty(),
    feeds: empty(),
    counters: empty(),
    profiles: empty(),
  };
  for (const kind of PROJECTION_KINDS) {
    if (kinds.includes(kind)) report[kind] = await RUNNERS[kind](ctx, opts);
  }
  return report;
}

export const totalDrift = (r: ReconcileReport) =>
  PROJECTION_KINDS.reduce((n, k) => n + r[k].drift.length, 0);
