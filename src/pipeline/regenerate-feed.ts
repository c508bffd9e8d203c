import { asWorker } from '../canonical/session.ts';
import { feedPostsOf } from '../canonical/tables/posts.ts';
import { isLiveUser } from '../canonical/tables/users.ts';
import { iso } from '../canonical/time.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { BulkOp } from '../projections/port.ts';
import { feedItemFor } from '../readmodel/builders.ts';
import { CONTAINERS, type PostDoc } from '../readmodel/documents.ts';
import type { PipelineContext } from './context.ts';
import { assertBulkOk } from './fanout-feed.ts';
import { readFeed } from './feed-trim.ts';

export interface RegenerateResult {
  userId: string;
  /** Items the feed should hold (at most feedCap). */
  wanted: number;
  written: number;
  deleted: number;
  unchanged: number;
}

/**
 * The newest published posts the user's feed should hold, from canonical: their own and
 * those of every followee they may see (no block either way, not muted, account live),
 * except followees above the fan-out threshold, whose posts are merged at read time.
 */
async function wantedPosts(ctx: PipelineContext, userId: string): Promise<PostDoc[]> {
  return asWorker(ctx.db, async (tx) => {
    if (!(await isLiveUser(tx, userId))) throw new NotFoundError(`user ${userId} not found`);
    const rows = await feedPostsOf(tx, userId, ctx.feedCap, ctx.fanoutFollowerThreshold);
    return rows.map((r) => ({
      id: r.id,
      postId: r.id,
      authorId: r.author_id,
      text: r.text ?? '',
      tags: r.tags ?? [],
      status: 'published' as const,
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
      sourceVersion: Number(r.version),
    }));
  });
}

/**
 * The feed-rebuild runbook (`regenerateUserFeed`): makes one user's userFeed exactly what
 * canonical data says it should be, newest first up to feedCap. Writes only what differs
 * (missing or outdated items) and deletes what should not be there (unfollowed, blocked,
 * muted, deleted or moderated posts, items beyond the cap). Safe to run while the
 * pipeline runs: every write is idempotent, and fan-out re-delivers anything newer.
 * Reads the canonical primary: a replica behind it could make the rebuild drop a post
 * that was just delivered.
 */
export async function regenerateUserFeed(
  ctx: PipelineContext,
  userId: string,
): Promise<RegenerateResult> {
  if (typeof userId !== 'string' || !isUuid(userId))
    throw new ValidationError('userId must be a UUID');
  const feed = ctx.store.container(CONTAINERS.userFeed);
  const wanted = await wantedPosts(ctx, userId);
  const have = new Map((await readFeed(feed, userId)).map((i) => [i.postId, i]));
  const ops: BulkOp[] = [];
  let unchanged = 0;
  const keep = new Set<string>();
  for (const post of wanted) {
    keep.add(post.postId);
    const item = have.get(post.postId);
    if (item && Number(item.sourceVersion) >= post.sourceVersion) unchanged++;
    else ops.push({ op: 'upsert', doc: feedItemFor(userId, post) });
  }
  const written = ops.length;
  for (const item of have.values()) {
    if (!keep.has(item.postId)) ops.push({ op: 'delete', id: item.id, partitionKey: userId });
  }
  for (let i = 0; i < ops.length; i += 100) {
    const chunk = ops.slice(i, i + 100);
    assertBulkOk(feed, chunk, await feed.bulk(chunk));
  }
  return { userId, wanted: wanted.length, written, deleted: ops.length - written, unchanged };
}
