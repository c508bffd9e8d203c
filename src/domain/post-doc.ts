import type { PostSnapshot, PostStatus } from '../outbox/events.ts';
import { postDoc } from '../pipeline/events/post.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { upsertIfNewer } from '../readmodel/guarded-write.ts';
import type { DomainContext } from './context.ts';
import { iso } from './time.ts';

export interface PostRow {
  id: string;
  author_id: string;
  text: string;
  tags: string[];
  status: PostStatus;
  version: number;
  created_at: unknown;
  updated_at: unknown;
}

export const POST_COLUMNS = 'id, author_id, text, tags, status, version, created_at, updated_at';

export const postSnapshot = (r: PostRow): PostSnapshot => ({
  id: r.id,
  authorId: r.author_id,
  text: r.text,
  tags: r.tags ?? [],
  status: r.status,
  version: Number(r.version),
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

/**
 * The seed's dual write, second half: after the canonical transaction committed, write
 * posts_v2 directly for read-after-write. A failure is logged, not raised: the outbox
 * event already committed and the relay writes the same version (version-guarded).
 */
export async function writePostDoc(ctx: DomainContext, s: PostSnapshot): Promise<void> {
  try {
    await upsertIfNewer(ctx.store.container(CONTAINERS.posts), postDoc(s));
  } catch (err) {
    ctx.log.warn({ err, postId: s.id }, 'direct posts_v2 write failed; the relay will repair it');
  }
}
