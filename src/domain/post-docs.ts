import { CONTAINERS, type PostDoc } from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';

/**
 * The posts_v2 documents of these posts, by post id, in one readMany (served from the read
 * cache when warm). A post without a document is absent: callers decide what that means
 * (the feed keeps a candidate the projection has not caught up with; discovery drops it).
 */
export async function postDocsOf(ctx: DomainContext, ids: string[]): Promise<Map<string, PostDoc>> {
  if (ids.length === 0) return new Map();
  const { items } = await ctx.store
    .container(CONTAINERS.posts)
    .readMany<PostDoc>(ids.map((id) => ({ id, partitionKey: id })));
  return new Map(items.map((d) => [d.postId, d]));
}
