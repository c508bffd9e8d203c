import type { AppEvent, EventPayloads } from '../../events/catalogue.ts';
import { reactionDoc } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';

/**
 * reaction.added / removed → the reactions container, guarded by the event's aggregate
 * version. Removal is a soft delete so the reactions change feed (counters, notification)
 * sees it.
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
  await upsertIfNewer(ctx.store.container(CONTAINERS.reactions), doc);
}
