import { asWorker } from '../../canonical/session.ts';
import { rowByKey } from '../../canonical/tables/keyed-scan.ts';
import {
  PROFILE_SCAN,
  type ProfileCheckRow,
  profileSnapshot,
} from '../../canonical/tables/profiles.ts';
import { isUuid } from '../../ids.ts';
import type { ProjectionContainer } from '../../projections/port.ts';
import { profileDoc, profileTombstone } from '../../readmodel/builders.ts';
import { CONTAINERS, type PublicProfileDoc } from '../../readmodel/documents.ts';
import type { Db } from '../../sql/db.ts';
import { convergeDoc } from './converge.ts';
import { checkKeyedProjection, softDeleted } from './scan.ts';
import type { Drift, KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

type Row = ProfileCheckRow;

const canonicalProfile = (db: Db, userId: string): Promise<Row | undefined> =>
  asWorker(db, (tx) => rowByKey(tx, PROFILE_SCAN, userId));

/** The publicProfiles document canonical data implies (as the relay's profile handler writes it). */
function expected(row: Row): PublicProfileDoc {
  if (row.user_gone) return profileTombstone(row.user_id, new Date().toISOString());
  return profileDoc(profileSnapshot(row));
}

function compare(row: Row, stored: PublicProfileDoc | undefined): Drift | undefined {
  const base = { kind: 'profiles' as const, id: row.user_id };
  if (row.user_gone) {
    return stored && stored.deleted !== true ? { ...base, problem: 'not_deleted' } : undefined;
  }
  const want = expected(row);
  if (!stored) return { ...base, problem: 'missing', detail: { version: want.sourceVersion } };
  const have = Number(stored.sourceVersion);
  if (have < want.sourceVersion)
    return { ...base, problem: 'stale', detail: { have, want: want.sourceVersion } };
  // displayNameKey too: documents written before discovery lack it, and repair backfills it.
  const fields = (
    ['displayName', 'displayNameKey', 'bio', 'avatarUrl', 'privacyLevel'] as const
  ).filter((f) => (stored[f] ?? null) !== want[f]);
  if (have !== want.sourceVersion || stored.deleted === true || fields.length > 0) {
    return { ...base, problem: 'mismatch', detail: { fields, have, want: want.sourceVersion } };
  }
  return undefined;
}

/**
 * publicProfiles against canonical profiles: each live user's document present with the
 * canonical fields and version; deleted accounts absent or tombstoned; no live document
 * without a canonical profile.
 */
export async function reconcileProfiles(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
): Promise<KindReport> {
  const docs = ctx.store.container(CONTAINERS.publicProfiles);
  return checkKeyedProjection<Row, PublicProfileDoc>(ctx, opts, {
    kind: 'profiles',
    container: docs,
    scan: PROFILE_SCAN,
    compare,
    repair: (d) => repairProfile(ctx, docs, d.id),
  });
}

function repairProfile(
  ctx: ReconcileContext,
  docs: ProjectionContainer,
  id: string,
): Promise<boolean> {
  return convergeDoc<PublicProfileDoc>(docs, id, id, async () => {
    const row = isUuid(id) ? await canonicalProfile(ctx.db, id) : undefined;
    const current = (await docs.read<PublicProfileDoc>(id, id)).resource;
    // No canonical profile: a stray document becomes a soft delete.
    if (!row) return softDeleted(current);
    const want = expected(row);
    if (want.deleted && (!current || current.deleted === true)) return undefined;
    return want;
  });
}
