import type { PostSnapshot } from '../events/catalogue.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { upsertPostDoc } from '../readmodel/post-writes.ts';
import type { DomainContext } from './context.ts';

/**
 * The seed's dual write, second half: after the canonical transaction committed, write
 * posts_v2 directly for read-after-write. A failure is logged, not raised: the outbox
 * event already committed and the relay writes the same version (version-guarded).
 */
export async function writePostDoc(ctx: DomainContext, s: PostSnapshot): Promise<void> {
  try {
    await upsertPostDoc(ctx.store.container(CONTAINERS.posts), s);
  } catch (err) {
    ctx.log.warn({ err, postId: s.id }, 'direct posts_v2 write failed; the relay will repair it');
  }
}
