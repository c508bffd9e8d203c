import { feedReadContext } from '../canonical/tables/follows.ts';
import type { Db } from '../sql/db.ts';
import type { DomainContext } from './context.ts';

/**
 * What a read needs to know about the caller from canonical: who the caller must not see
 * (blocks either way, mutes), which followees are above the fan-out threshold (merged in
 * at read time) and when the caller last posted. Fetched in one statement that also checks
 * the caller's account (feed_read_context, 0006), then cached per user for a few seconds,
 * so most reads make no canonical round trip at all.
 */
export interface ReadContext {
  hidden: ReadonlySet<string>;
  bigFollowees: readonly string[];
  /** Epoch ms of the caller's newest published post (0 if none). */
  lastPostAt: number;
}

/** How long a read context is reused. The caller's own writes in this process invalidate it at once. */
export const READ_CONTEXT_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  value: Promise<ReadContext>;
  expires: number;
}

class ReadContextCache {
  private readonly entries = new Map<string, Entry>();
  /** Bumped by forget(): a fetch that began before an invalidation must not be cached. */
  private readonly generation = new Map<string, number>();

  /** Concurrent reads of one user share one fetch (no stampede when an entry expires). */
  get(ctx: DomainContext, userId: string): Promise<ReadContext> {
    const hit = this.entries.get(userId);
    if (hit && hit.expires > Date.now()) return hit.value;
    const gen = this.generation.get(userId) ?? 0;
    const value = fetchReadContext(ctx, userId);
    const entry = { value, expires: Number.POSITIVE_INFINITY };
    this.entries.delete(userId);
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(userId, entry);
    const drop = () => {
      if (this.entries.get(userId) === entry) this.entries.delete(userId);
    };
    value.then(
      () => {
        if ((this.generation.get(userId) ?? 0) === gen)
          entry.expires = Date.now() + READ_CONTEXT_TTL_MS;
        else drop();
      },
      drop, // a failed fetch (e.g. a deleted account) is not cached
    );
    return value;
  }

  forget(userId: string): void {
    this.entries.delete(userId);
    this.generation.set(userId, (this.generation.get(userId) ?? 0) + 1);
  }

  notePost(userId: string, createdAtMs: number): void {
    const hit = this.entries.get(userId);
    if (!hit) return;
    const next = hit.value.then((v) =>
      v.lastPostAt < createdAtMs ? { ...v, lastPostAt: createdAtMs } : v,
    );
    next.catch(() => {}); // a failing fetch is reported to the reads awaiting it, not here
    hit.value = next;
  }
}

async function fetchReadContext(ctx: DomainContext, userId: string): Promise<ReadContext> {
  const r = await feedReadContext(ctx.db, userId, ctx.fanoutFollowerThreshold);
  return {
    hidden: new Set(r.hidden),
    bigFollowees: r.bigFollowees,
    lastPostAt: r.lastPostAt ? Date.parse(r.lastPostAt) : 0,
  };
}

// One cache per canonical store, shared by every DomainContext built on it in this process.
const caches = new WeakMap<Db, ReadContextCache>();
const cacheOf = (ctx: DomainContext) => {
  const c = caches.get(ctx.db) ?? new ReadContextCache();
  caches.set(ctx.db, c);
  return c;
};

/** The caller's read context; also the read path's check that the account still exists. */
export const readContext = (ctx: DomainContext, userId: string) => cacheOf(ctx).get(ctx, userId);

/** After a block, mute or follow change: both parties' next reads see it. */
export function forgetReadContext(ctx: DomainContext, ...userIds: string[]): void {
  for (const id of userIds) cacheOf(ctx).forget(id);
}

/** After the caller posted: the next feed reads merge the caller's own posts from canonical. */
export const noteOwnPost = (ctx: DomainContext, userId: string, createdAt: string) =>
  cacheOf(ctx).notePost(userId, Date.parse(createdAt));
