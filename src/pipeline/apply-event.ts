import type { AppEvent, EventPayloads, EventType } from '../events/catalogue.ts';
import { BadEventError, isKnownEventType, parsePayload } from '../events/catalogue.ts';
import type { OutboxEvent } from '../outbox/event.ts';
import type { PipelineContext } from './context.ts';
import { applyBlockEvent } from './events/block.ts';
import { applyFollowCreated, applyFollowRemoved } from './events/follow.ts';
import { applyMuteEvent } from './events/mute.ts';
import { applyPostEvent } from './events/post.ts';
import { applyProfileEvent } from './events/profile.ts';
import { applyReactionEvent } from './events/reaction.ts';
import { applyUserDeleted } from './events/user-deleted.ts';

type Handler<E extends EventType> = (
  ctx: PipelineContext,
  event: AppEvent,
  payload: EventPayloads[E],
) => Promise<void>;

const handlers: { [E in EventType]: Handler<E> } = {
  'post.created': applyPostEvent,
  'post.updated': applyPostEvent,
  'post.deleted': applyPostEvent,
  'post.moderated': applyPostEvent,
  'post.archived': applyPostEvent,
  'post.restored': applyPostEvent,
  'reaction.added': applyReactionEvent,
  'reaction.removed': applyReactionEvent,
  'follow.created': applyFollowCreated,
  'follow.removed': (ctx, _e, p) => applyFollowRemoved(ctx, p),
  'block.created': (ctx, _e, p) => applyBlockEvent(ctx, p),
  'block.removed': (ctx, _e, p) => applyBlockEvent(ctx, p),
  'mute.created': (ctx, _e, p) => applyMuteEvent(ctx, p),
  'mute.removed': (ctx, _e, p) => applyMuteEvent(ctx, p),
  'profile.updated': (ctx, _e, p) => applyProfileEvent(ctx, p),
  'user.deleted': (ctx, _e, p) => applyUserDeleted(ctx, p),
};

/**
 * The relay's `apply`: checks the payload, then runs the event's handler. Every handler
 * is idempotent and version-guarded, so an event may be applied again (lease expiry,
 * replay) or after a newer write without regressing any projection. A throw makes the
 * relay retry the event later.
 */
export function createEventApplier(ctx: PipelineContext): (event: OutboxEvent) => Promise<void> {
  return async (event) => {
    const type: string = event.eventType;
    if (!isKnownEventType(type))
      throw new BadEventError(`unknown event type ${JSON.stringify(type)}`);
    const handler = handlers[type] as Handler<typeof type>;
    const payload = parsePayload(type, event.payload);
    await handler(ctx, { ...event, eventType: type, payload } as AppEvent, payload);
  };
}
