import type { ProfileSnapshot } from '../../outbox/events.ts';
import { CONTAINERS, type PublicProfileDoc } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';

/** profile.updated → publicProfiles, guarded by profiles.version. */
export async function applyProfileEvent(ctx: PipelineContext, p: ProfileSnapshot): Promise<void> {
  const doc: PublicProfileDoc = {
    id: p.userId,
    userId: p.userId,
    displayName: p.displayName,
    bio: p.bio,
    avatarUrl: p.avatarUrl,
    privacyLevel: p.privacyLevel,
    sourceVersion: p.version,
    updatedAt: p.updatedAt,
  };
  await upsertIfNewer(ctx.store.container(CONTAINERS.publicProfiles), doc);
}
