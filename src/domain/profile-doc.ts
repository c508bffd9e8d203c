import type { ProfileSnapshot } from '../events/catalogue.ts';
import { profileDoc } from '../readmodel/builders.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { upsertIfNewer } from '../readmodel/guarded-write.ts';
import type { DomainContext } from './context.ts';

/**
 * Best-effort direct write of publicProfiles after a committed change, so the owner reads
 * their own edit at once; the relay writes the same version later (version-guarded).
 */
export async function writeProfileDoc(ctx: DomainContext, s: ProfileSnapshot): Promise<void> {
  try {
    await upsertIfNewer(ctx.store.container(CONTAINERS.publicProfiles), profileDoc(s));
  } catch (err) {
    ctx.log.warn(
      { err, userId: s.userId },
      'direct publicProfiles write failed; the relay will repair it',
    );
  }
}
