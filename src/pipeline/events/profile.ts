import type { ProfileSnapshot } from '../../events/catalogue.ts';
import { CONTAINERS } from '../../readmodel/documents.ts';
import { upsertProfileDoc } from '../../readmodel/profile-writes.ts';
import type { PipelineContext } from '../context.ts';

/** profile.updated → publicProfiles, guarded by profiles.version (and against resurrection). */
export async function applyProfileEvent(ctx: PipelineContext, p: ProfileSnapshot): Promise<void> {
  await upsertProfileDoc(ctx.store.container(CONTAINERS.publicProfiles), p, ctx.db);
}
