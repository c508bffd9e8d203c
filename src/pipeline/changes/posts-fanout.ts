import type { Stored } from '../../projections/port.ts';
import {
  CONTAINERS,
  type FeedItemDoc,
  feedItemId,
  isLivePost,
  type PostDoc,
} from '../../readmodel/documents.ts';
import type { PipelineContext } from '../context.ts';
import { countFollowersUpTo, followerPages } from '../fanout-audience.ts';
import { deliverToRecipients, retractFromRecipients } from '../fanout-feed.ts';
import { shouldCheckCap, trimFeeds } from '../feed-trim.ts';

export interface FanoutOptions {
  /** Recipients per canonical page and per bulk write. */
  batchSize?: number;
  /** Check a recipient's cap on 1 in `capCheckEvery` new items (1 = always; see shouldCheckCap). */
  capCheckEvery?: number;
  /** Recipient batches written in parallel for one post. */
  concurrency?: number;
}

/** Runs fn on each page as it arrives, at most `limit` at once; the first failure stops it and is thrown. */
async function eachPage(
  pages: AsyncIterable<string[]>,
  limit: number,
  fn: (page: string[]) => Promise<void>,
) {
  const inflight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  for await (const page of pages) {
    if (failure) break;
    const p: Promise<void> = fn(page).then(
      () => void inflight.delete(p),
      (err: unknown) => {
        inflight.delete(p);
        failure ??= { err };
      },
    );
    inflight.add(p);
    if (inflight.size >= limit) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (failure) throw failure.err;
}

export interface FanoutOutcome {
  postId: string;
  action: 'delivered' | 'retracted' | 'skipped-popular-author';
  written: number;
  removed: number;
}

/**
 * posts_v2 change feed → userFeed. A live post goes to its author's feed and to every
 * follower who may see it (no block either way, not muted); a deleted, removed or hidden
 * post leaves every feed. Authors with more than ctx.fanoutFollowerThreshold followers are
 * not fanned out: readers merge their posts in at read time (only the author's own feed
 * gets the item). Idempotent under redelivery: deterministic ids, version-guarded writes.
 */
export function createPostFanoutHandler(ctx: PipelineContext, opts: FanoutOptions = {}) {
  const batchSize = opts.batchSize ?? 500;
  const capCheckEvery = opts.capCheckEvery ?? 32;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  const feed = ctx.store.container(CONTAINERS.userFeed);
  const posts = ctx.store.container(CONTAINERS.posts);

  async function deliver(post: PostDoc, skipIfDelivered: boolean): Promise<FanoutOutcome> {
    // The author's own copy is written last, so holding this version means every follower
    // already got it: a change that only moved the counts (the reaction pipeline writes
    // them on posts_v2) costs one point read instead of a walk over the followers. Not when
    // re-applying after an older delivery ran alongside: its late writes must be repaired.
    if (skipIfDelivered) {
      const own = await feed.read<FeedItemDoc>(
        feedItemId(post.authorId, post.postId),
        post.authorId,
      );
      if (own.resource && Number(own.resource.sourceVersion) >= post.sourceVersion)
        return { postId: post.postId, action: 'delivered', written: 0, removed: 0 };
    }
    const popular =
      (await countFollowersUpTo(ctx.readDb, post.authorId, ctx.fanoutFollowerThreshold + 1)) >
      ctx.fanoutFollowerThreshold;
    let written = 0;
    // Cap checks run after every page is written: the post reaches every feed first, and
    // the checks (one size count per 500 sampled recipients) do not sit between the bulk writes.
    const toCheck: string[] = [];
    const send = async (recipients: string[]) => {
      const r = await deliverToRecipients(feed, post, recipients);
      written += r.written;
      for (const recipient of r.added) {
        if (shouldCheckCap(recipient, post.postId, capCheckEvery)) toCheck.push(recipient);
      }
    };
    if (!popular) {
      const pages = followerPages(ctx.readDb, post.authorId, {
        pageSize: batchSize,
        visibleOnly: true,
      });
      await eachPage(pages, concurrency, send);
    }
    await send([post.authorId]);
    const removed = await trimFeeds(feed, toCheck, ctx.feedCap, concurrency);
    return {
      postId: post.postId,
      action: popular ? 'skipped-popular-author' : 'delivered',
      written,
      removed,
    };
  }

  async function retract(
    postId: string,
    authorId: string,
    version: number,
  ): Promise<FanoutOutcome> {
    // Every follower, not only those who could see it: whoever holds an item must lose it.
    let removed = await retractFromRecipients(feed, postId, version, [authorId]);
    const pages = followerPages(ctx.readDb, authorId, { pageSize: batchSize, visibleOnly: false });
    await eachPage(pages, concurrency, async (page) => {
      const n = await retractFromRecipients(feed, postId, version, page);
      removed += n;
    });
    return { postId, action: 'retracted', written: 0, removed };
  }

  /**
   * Applies one post version, then re-reads posts_v2: if a newer version (or the deletion)
   * landed meanwhile, its own delivery may have run before ours and been overwritten, so
   * apply the newest too. This closes the race between two deliveries' version-guarded writes
   * to the followers' feeds (each page is guarded on its own).
   */
  async function apply(doc: PostDoc): Promise<FanoutOutcome> {
    let current = doc;
    let outcome: FanoutOutcome;
    for (let round = 0; ; round++) {
      outcome = isLivePost(current)
        ? await deliver(current, round === 0)
        : await retract(current.postId, current.authorId, current.sourceVersion);
      const latest = (await posts.read<PostDoc>(current.postId, current.postId)).resource;
      if (!latest) {
        // Purged (soft-delete TTL or account deletion): nothing of it may stay in feeds.
        if (isLivePost(current))
          outcome = await retract(current.postId, current.authorId, Number.MAX_SAFE_INTEGER);
        return outcome;
      }
      if (latest.sourceVersion <= current.sourceVersion || round >= 4) return outcome;
      current = latest;
    }
  }

  return async function handlePosts(items: Stored[]): Promise<FanoutOutcome[]> {
    const out: FanoutOutcome[] = [];
    for (const item of items as Stored<PostDoc>[]) {
      if (
        typeof item.postId !== 'string' ||
        typeof item.authorId !== 'string' ||
        typeof item.sourceVersion !== 'number'
      ) {
        ctx.log.warn(
          { id: item.id },
          'posts_v2 change without postId/authorId/sourceVersion; skipped',
        );
        continue;
      }
      const outcome = await apply(item);
      ctx.log.debug(outcome, 'post fan-out');
      out.push(outcome);
    }
    return out;
  };
}
