import type { ProfileSnapshot } from '../events/catalogue.ts';
import { CONTAINERS } from '../readmodel/documents.ts';
import { upsertProfileDoc } from '../readmodel/profile-writes.ts';
import type { DomainContext } from './context.ts';

/**
 * Best-effort direct write of publicProfiles after a committed change, so the owner reads
 * their own edit at once; the relay writes the same version later (version-guarded).
 */
export async function writeProfileDoc(ctx: DomainContext, s: ProfileSnapshot): Promise<void> {
  try {
    await upsertProfileDoc(ctx.store.container(CONTAINERS.publicProfiles), s);
  } catch (err) {
    ctx.log.warn(
      { err, userId: s.userId },
      'direct publicProfiles write failed; the relay will repair it',
    );
  }
}
