import { asWorker } from '../../canonical/session.ts';
import { followCountsOf, followsOf } from '../../canonical/tables/follows.ts';
import { feedPostIdsOfMany, postSnapshot, postsByAuthors } from '../../canonical/tables/posts.ts';
import { mirrorPosts } from '../../canonical/tables/posts-admin-mirror.ts';
import { profileSnapshot, profilesOf } from '../../canonical/tables/profiles.ts';
import { reactionCountsOf, reactionsOn } from '../../canonical/tables/reactions.ts';
import { iso } from '../../canonical/time.ts';
import { pairAggregateId } from '../../events/emit.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import type { PipelineContext } from '../../pipeline/context.ts';
import { assertBulkOk } from '../../pipeline/fanout-feed.ts';
import type { BulkOp, Doc } from '../../projections/port.ts';
import {
  counterDoc,
  feedItemFor,
  followNotification,
  isHot,
  postDoc,
  postTagDocs,
  profileDoc,
  reactionDoc,
  reactionNotification,
  zeroCounts,
} from '../../readmodel/builders.ts';
import {
  CONTAINERS,
  type CounterDoc,
  type PostDoc,
  REACTION_METRIC,
} from '../../readmodel/documents.ts';
import type { Output } from '../output.ts';
import { progress } from '../progress.ts';
import { chunks } from './graph.ts';

/** Users per canonical read: each phase reads its rows for this many users in one query. */
const USERS_PER_READ = 500;
/**
 * Users per feed read: the query hashes every candidate post once per call, and its rows
 * are keys only (about cap-or-fewer per user), so fewer, larger calls are cheaper.
 */
const FEED_USERS_PER_READ = 2000;
/** Documents per bulk call (the embedded store writes a call in one statement per 1,000). */
const DOCS_PER_BULK = 1000;
/** Bulk calls in flight (a server or Cosmos overlaps them; PGlite runs them in turn). */
const BULK_CONCURRENCY = 4;

/**
 * Writes documents through the store's bulk path in calls of DOCS_PER_BULK. Documents with
 * a canonical version go through the store's version guard (`ifNewer: sourceVersion`): a
 * newer document already stored (a post edited meanwhile, a replayed event) is kept.
 */
async function bulkWrite(
  ctx: PipelineContext,
  container: string,
  docs: Doc[],
  guarded: boolean,
): Promise<void> {
  const c = ctx.store.container(container);
  await forEachLimited(chunks(docs, DOCS_PER_BULK), BULK_CONCURRENCY, async (batch) => {
    const ops: BulkOp[] = batch.map((doc) => ({ op: 'upsert', doc }));
    const res = await c.bulk(ops, guarded ? { ifNewer: 'sourceVersion' } : undefined);
    assertBulkOk(c, ops, res, { guarded });
  });
}

export interface SeededGraph {
  userIds: string[];
  /** Aggregate version of each follow and reaction event, by aggregate id. */
  versions: Map<string, number>;
}

/**
 * Builds every projection the pipeline would build from the seeded users' events, in bulk
 * from canonical, with the same builders (readmodel/builders.ts) and the same rules:
 * publicProfiles; posts_v2 with their canonical reaction counts, postTags and the admin
 * mirror; reactions and their notifications; follow notifications; the counters the
 * handlers would recompute (followers, following, posts, per-post reaction types); and
 * each user's userFeed as regenerateUserFeed would make it. Every document with a
 * canonical version is written version-guarded, so a later replay of the same events
 * (their handlers are version-guarded too) finds them current and changes nothing.
 * Seeded follows and reactions are among seeded users only, so no other account's
 * projections change.
 */
export async function buildSeedProjections(
  ctx: PipelineContext,
  seeded: SeededGraph,
  out: Output,
): Promise<{ seconds: Record<string, number>; storeSeconds: Record<string, number> }> {
  const seconds: Record<string, number> = {};
  const storeSeconds: Record<string, number> = {};
  let storeMs = 0;
  /** bulkWrite, timed: what each phase spends in the store's bulk path (the rest is canonical). */
  const write = async (container: string, docs: Doc[], guarded: boolean) => {
    const started = Date.now();
    await bulkWrite(ctx, container, docs, guarded);
    storeMs += Date.now() - started;
  };
  // In id order: documents partitioned by user (feeds, notifications, counters, profiles)
  // then land in neighbouring key ranges of the store's (pk, ...) indexes batch after
  // batch, instead of all over them (on the embedded store, index pages stay cached).
  const sorted = [...seeded.userIds].sort();
  const read = <T>(fn: Parameters<typeof asWorker<T>>[1]) => asWorker(ctx.readDb, fn);
  const version = (aggregateId: string) => {
    const v = seeded.versions.get(aggregateId);
    if (v === undefined) throw new Error(`seed: no event version for aggregate ${aggregateId}`);
    return v;
  };

  async function phase(
    label: string,
    fn: (users: string[]) => Promise<void>,
    usersPerRead = USERS_PER_READ,
  ) {
    const bar = progress(out, label.padEnd(12), seeded.userIds.length);
    const started = Date.now();
    storeMs = 0;
    try {
      for (const users of chunks(sorted, usersPerRead)) {
        await fn(users);
        bar.increment(users.length);
      }
    } finally {
      bar.stop();
    }
    seconds[label] = (Date.now() - started) / 1000;
    storeSeconds[label] = storeMs / 1000;
  }

  /** Each seeded post's posts_v2 document (without counts), built once: feed items carry it too. */
  const feedPosts = new Map<string, PostDoc>();

  await phase('profile docs', async (users) => {
    const rows = await read((tx) => profilesOf(tx, users));
    const docs = rows.map((r) => profileDoc(profileSnapshot(r)));
    await write(CONTAINERS.publicProfiles, docs, true);
  });

  await phase('post docs', async (users) => {
    const posts = (await read((tx) => postsByAuthors(tx, users))).map(postSnapshot);
    for (const p of posts) feedPosts.set(p.id, postDoc(p));
    const ids = posts.map((p) => p.id);
    const [counts, reactions] = await read(async (tx) => [
      await reactionCountsOf(tx, ids),
      await reactionsOn(tx, ids),
    ]);
    const countsOf = new Map(ids.map((id) => [id, zeroCounts()]));
    for (const c of counts) countsOf.get(c.postId)![c.type] = c.n;
    // posts_v2 as the post event and then the reaction pipeline leave it: counts included.
    const docs = posts.map((p) => {
      const doc = feedPosts.get(p.id)!;
      return isHot(p) ? { ...doc, counts: countsOf.get(p.id)! } : doc;
    });
    await write(CONTAINERS.posts, docs, true);
    await write(CONTAINERS.postTags, posts.flatMap(postTagDocs), true);
    await asWorker(ctx.db, (tx) => mirrorPosts(tx, posts));

    const authorOf = new Map(posts.map((p) => [p.id, p.authorId]));
    const reactionDocs = reactions.map((r) =>
      reactionDoc(
        { ...r, createdAt: iso(r.createdAt) },
        version(pairAggregateId('reaction', r.postId, r.userId, r.type)),
      ),
    );
    await write(CONTAINERS.reactions, reactionDocs, true);
    const notes = reactionDocs
      .filter((r) => authorOf.get(r.postId) !== r.userId)
      .map((r) => reactionNotification(r, authorOf.get(r.postId)!));
    // Unguarded: these ids belong to events still held back, so nobody has read them yet.
    await write(CONTAINERS.notifications, notes, false);

    // The counters the post and reaction handlers recompute: posts per author, and one
    // per (post, reaction type) that has reactions.
    const published = new Map<string, number>();
    for (const p of posts)
      if (p.status === 'published') published.set(p.authorId, (published.get(p.authorId) ?? 0) + 1);
    const counters: CounterDoc[] = [
      ...[...published].map(([authorId, n]) => counterDoc(authorId, 'posts', n)),
      ...counts.map((c) => counterDoc(c.postId, REACTION_METRIC[c.type], c.n)),
    ];
    // Counters carry no version: they hold the canonical count, as a recompute would.
    await write(CONTAINERS.counters, counters, false);
  });

  await phase('follow docs', async (users) => {
    const [follows, counts] = await read(async (tx) => [
      await followsOf(tx, users),
      await followCountsOf(tx, users),
    ]);
    const notes = follows.map((f) =>
      followNotification(
        { ...f, createdAt: iso(f.createdAt) },
        version(pairAggregateId('follow', f.followerId, f.followeeId)),
      ),
    );
    await write(CONTAINERS.notifications, notes, false);
    // A follow event recomputes the followee's followers and the follower's following.
    const counters = counts.flatMap((c) => [
      ...(c.followers > 0 ? [counterDoc(c.userId, 'followers', c.followers)] : []),
      ...(c.following > 0 ? [counterDoc(c.userId, 'following', c.following)] : []),
    ]);
    await write(CONTAINERS.counters, counters, false);
  });

  await phase(
    'feeds',
    async (users) => {
      const keys = await read((tx) =>
        feedPostIdsOfMany(tx, users, ctx.feedCap, ctx.fanoutFollowerThreshold),
      );
      // A post written since the post docs phase read them (by a live server): read now.
      const authors = new Set(keys.filter((k) => !feedPosts.has(k.postId)).map((k) => k.authorId));
      if (authors.size > 0)
        for (const r of await read((tx) => postsByAuthors(tx, [...authors])))
          feedPosts.set(r.id, postDoc(postSnapshot(r)));
      const items = keys.map((k) => {
        const post = feedPosts.get(k.postId);
        if (!post) throw new Error(`seed: post ${k.postId} is in a feed but could not be read`);
        return feedItemFor(k.recipientId, post);
      });
      await write(CONTAINERS.userFeed, items, true);
    },
    FEED_USERS_PER_READ,
  );
  return { seconds, storeSeconds };
}
