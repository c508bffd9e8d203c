import type { ProfileSnapshot } from '../../events/catalogue.ts';
import { profileDoc } from '../../readmodel/builders.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertIfNewer } from '../../readmodel/guarded-write.ts';
import type { PipelineContext } from '../context.ts';

/** profile.updated → publicProfiles, guarded by profiles.version. */
export async function applyProfileEvent(ctx: PipelineContext, p: ProfileSnapshot): Promise<void> {
  await upsertIfNewer(ctx.store.container(CONTAINERS.publicProfiles), profileDoc(p));
}
