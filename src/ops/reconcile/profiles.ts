import { asWorker } from '../../canonical/session.ts';
import { PROFILE_COLUMNS, type ProfileRow, profileSnapshot } from '../../domain/profile-doc.ts';
import { TOMBSTONE_VERSION } from '../../pipeline/events/user-deleted.ts';
import type { ProjectionContainer } from '../../projections/port.ts';
import {
  CONTAINERS,
  type PublicProfileDoc,
  SOFT_DELETE_TTL_SECONDS,
} from '../../readmodel/documents.ts';
import type { Db } from '../../sql/db.ts';
import { convergeDoc, forEachLimited } from './converge.ts';
import type { Drift, KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

const PAGE = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Row extends ProfileRow {
  user_gone: boolean;
}

const SELECT = `SELECT ${PROFILE_COLUMNS.split(', ')
  .map((c) => `p.${c}`)
  .join(', ')}, (u.deleted_at IS NOT NULL) AS user_gone
  FROM profiles p JOIN users u ON u.id = p.user_id`;

const canonicalProfile = (db: Db, userId: string) =>
  asWorker(
    db,
    async (tx) => (await tx.query<Row>(`${SELECT} WHERE p.user_id = $1`, [userId])).rows[0],
  );

/** The publicProfiles document canonical data implies (as the relay's profile handler writes it). */
function expected(row: Row): PublicProfileDoc {
  if (row.user_gone) {
    return {
      id: row.user_id,
      userId: row.user_id,
      displayName: '',
      bio: null,
      avatarUrl: null,
      privacyLevel: 'private',
      updatedAt: new Date().toISOString(),
      deleted: true,
      ttl: SOFT_DELETE_TTL_SECONDS,
      sourceVersion: TOMBSTONE_VERSION,
    };
  }
  const s = profileSnapshot(row);
  return {
    id: s.userId,
    userId: s.userId,
    displayName: s.displayName,
    bio: s.bio,
    avatarUrl: s.avatarUrl,
    privacyLevel: s.privacyLevel,
    sourceVersion: s.version,
    updatedAt: s.updatedAt,
  };
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
  const fields = (['displayName', 'bio', 'avatarUrl', 'privacyLevel'] as const).filter(
    (f) => (stored[f] ?? null) !== want[f],
  );
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
  const report: KindReport = { checked: 0, drift: [], repaired: 0 };
  const total = await asWorker(
    ctx.readDb,
    async (tx) =>
      (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM profiles')).rows[0]!.n,
  );

  let after = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const rows = await asWorker(
      ctx.readDb,
      async (tx) =>
        (
          await tx.query<Row>(`${SELECT} WHERE p.user_id > $1 ORDER BY p.user_id LIMIT $2`, [
            after,
            PAGE,
          ])
        ).rows,
    );
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.user_id;
    const page = await docs.readMany<PublicProfileDoc>(
      rows.map((r) => ({ id: r.user_id, partitionKey: r.user_id })),
    );
    const stored = new Map(page.items.map((d) => [d.id, d]));
    for (const row of rows) {
      const d = compare(row, stored.get(row.user_id));
      if (d) report.drift.push(d);
    }
    report.checked += rows.length;
    opts.onProgress?.('profiles', report.checked, total);
  }

  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof docs.query<PublicProfileDoc>>> =
      await docs.query<PublicProfileDoc>({
        limit: PAGE,
        continuation,
      });
    continuation = page.continuation;
    const live = page.items.filter((d) => d.deleted !== true);
    const ids = live.map((d) => d.id).filter((id) => UUID.test(id));
    const known = new Set(
      ids.length === 0
        ? []
        : await asWorker(ctx.readDb, async (tx) =>
            (
              await tx.query<{ id: string }>(
                'SELECT user_id::text AS id FROM profiles WHERE user_id = ANY($1::uuid[])',
                [ids],
              )
            ).rows.map((r) => r.id),
          ),
    );
    for (const d of live)
      if (!known.has(d.id)) report.drift.push({ kind: 'profiles', id: d.id, problem: 'stray' });
  } while (continuation);

  if (opts.repair) {
    await forEachLimited(report.drift, 8, async (d) => {
      if (await repairProfile(ctx, docs, d.id)) report.repaired++;
    });
  }
  return report;
}

function repairProfile(
  ctx: ReconcileContext,
  docs: ProjectionContainer,
  id: string,
): Promise<boolean> {
  return convergeDoc<PublicProfileDoc>(docs, id, id, async () => {
    const row = UUID.test(id) ? await canonicalProfile(ctx.db, id) : undefined;
    const current = (await docs.read<PublicProfileDoc>(id, id)).resource;
    if (!row) {
      // No canonical profile: a stray document becomes a soft delete.
      if (!current || current.deleted === true) return undefined;
      const { _etag, _ts, ...body } = current;
      return { ...body, deleted: true, ttl: SOFT_DELETE_TTL_SECONDS } as PublicProfileDoc;
    }
    const want = expected(row);
    if (want.deleted && (!current || current.deleted === true)) return undefined;
    return want;
  });
}
