import { asWorker } from '../../canonical/session.ts';
import { reactionExists } from '../../canonical/tables/reactions.ts';
import type { AppEvent, EventPayloads } from '../../events/catalogue.ts';
import { reactionDoc } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';

/**
 * reaction.added / removed → the reactions container, guarded by the event's aggregate
 * version. Removal is a soft delete so the reactions change feed (counters, notification)
 * sees it. A missing document is created only while the reaction exists in canonical: a
 * late or replayed reaction.added must not outlive the removal's expired tombstone.
 */
export async function applyReactionEvent(
  ctx: PipelineContext,
  event: AppEvent,
  p: EventPayloads['reaction.added'] | EventPayloads['reaction.removed'],
): Promise<void> {
  const doc = reactionDoc(
    { ...p, createdAt: 'createdAt' in p ? p.createdAt : event.createdAt.toISOString() },
    event.aggregateVersion,
    event.eventType !== 'reaction.added',
  );
  await upsertIfNewer(ctx.store.container(CONTAINERS.reactions), doc, {
    mayCreate: () => asWorker(ctx.db, (tx) => reactionExists(tx, p.postId, p.userId, p.type)),
  });
}
