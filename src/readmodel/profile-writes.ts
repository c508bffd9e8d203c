import { asWorker } from '../canonical/session.ts';
import { readProfile } from '../canonical/tables/profiles.ts';
import type { ProfileSnapshot } from '../events/catalogue.ts';
import type { ProjectionContainer } from '../projections/port.ts';
import type { Db } from '../sql/db.ts';
import { profileDoc } from './builders.ts';
import { upsertIfNewer } from './guarded-write.ts';

/**
 * A profile version into publicProfiles, version-guarded. With `canonical` (the relay), a
 * missing document is created only if this is still the profile's canonical version: an
 * account deletion's tombstone may have expired, and a late profile event must not bring
 * the profile back (see upsertPostDoc).
 */
export function upsertProfileDoc(
  profiles: ProjectionContainer,
  s: ProfileSnapshot,
  canonical?: Db,
) {
  return upsertIfNewer(profiles, profileDoc(s), {
    mayCreate: canonical
      ? async () =>
          Number((await asWorker(canonical, (tx) => readProfile(tx, s.userId)))?.version) ===
          s.version
      : undefined,
  });
}
