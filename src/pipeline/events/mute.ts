import type { EventPayloads } from '../../events/catalogue.ts';
import type { PipelineContext } from '../context.ts';
import { syncFollowFeed } from './feed.ts';

/** mute.created / removed: the muted author's posts leave (or come back to) the muter's feed. */
export async function applyMuteEvent(
  ctx: PipelineContext,
  p: EventPayloads['mute.created'] | EventPayloads['mute.removed'],
): Promise<void> {
  await syncFollowFeed(ctx, p.muterId, p.mutedId);
}
