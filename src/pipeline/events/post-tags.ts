import type { PostSnapshot } from '../../events/catalogue.ts';
import type { ProjectionStore } from '../../projections/port.ts';
import { postTagDocs } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';

/**
 * Writes the post's tag index entries, version-guarded like posts_v2. A tag an edit removed
 * keeps its entry until the post is deleted or archived (the snapshot no longer names it);
 * readers check the post's current tags in posts_v2, so it is never shown.
 */
export async function writePostTags(store: ProjectionStore, p: PostSnapshot): Promise<void> {
  const container = store.container(CONTAINERS.postTags);
  for (const doc of postTagDocs(p)) await upsertIfNewer(container, doc);
}
