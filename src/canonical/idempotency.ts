import type { Db, Queryable } from '../sql/db.ts';
import { asAnonymous, asWorker } from './session.ts';

/** What a key holds when a request arrives with it. */
export type KeyState =
  | { kind: 'new' }
  | { kind: 'done'; status: number; response: string }
  | { kind: 'in_progress' }
  /** The first request committed its write but died before its response was recorded. */
  | { kind: 'committed' }
  | { kind: 'mismatch'; route: string };

export interface KeyRef {
  /** The caller's user id, or undefined for anonymous requests (registration). */
  userId?: string;
  key: string;
}

/** As the application role with the caller's id set, so RLS scopes the keys to the caller. */
const asScope = <T>(db: Db, userId: string | undefined, fn: (tx: Queryable) => Promise<T>) =>
  asAnonymous(db, async (tx, actAs) => {
    if (userId) await actAs(userId);
    return fn(tx);
  });

export const scopeOf = (userId: string | undefined) => userId ?? 'anonymous';

/**
 * Claims a key for a request (route + body fingerprint), or reports what it already holds.
 * An expired row is replaced; an unfinished one older than staleSeconds (its request died
 * before recording an outcome) is taken over.
 */
export async function claimKey(
  db: Db,
  ref: KeyRef,
  req: { route: string; hash: string; ttlSeconds: number; staleSeconds: number },
): Promise<KeyState> {
  return asScope(db, ref.userId, async (tx) => {
    const { rows } = await tx.query<{ claimed: boolean }>(
      `INSERT INTO idempotency_keys (scope, key, route, request_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))
       ON CONFLICT (scope, key) DO UPDATE
          SET route = EXCLUDED.route, request_hash = EXCLUDED.request_hash, status = NULL,
              response = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE idempotency_keys.expires_at < now()
           OR (idempotency_keys.status IS NULL AND NOT idempotency_keys.committed
               AND idempotency_keys.request_hash = EXCLUDED.request_hash
               AND idempotency_keys.created_at < now() - make_interval(secs => $6))
       RETURNING true AS claimed`,
      [scopeOf(ref.userId), ref.key, req.route, req.hash, req.ttlSeconds, req.staleSeconds],
    );
    if (rows[0]) return { kind: 'new' };
    const held = await tx.query<{
      route: string;
      request_hash: string;
      status: number | null;
      response: string | null;
      committed: boolean;
      stale: boolean;
    }>(
      `SELECT route, request_hash, status, response, committed,
              created_at < now() - make_interval(secs => $3) AS stale
         FROM idempotency_keys WHERE scope = $1 AND key = $2`,
      [scopeOf(ref.userId), ref.key, req.staleSeconds],
    );
    const h = held.rows[0];
    if (!h) return { kind: 'in_progress' }; // released between our insert and read: retry
    if (h.route !== req.route || h.request_hash !== req.hash)
      return { kind: 'mismatch', route: h.route };
    // Unfinished: still running, or (committed and stale) its process died after the write.
    if (h.status === null || h.response === null)
      return h.committed && h.stale ? { kind: 'committed' } : { kind: 'in_progress' };
    return { kind: 'done', status: h.status, response: h.response };
  });
}

/** Records the first (successful) response under the key. */
export async function completeKey(
  db: Db,
  ref: KeyRef,
  status: number,
  response: string,
): Promise<void> {
  await asScope(db, ref.userId, (tx) =>
    tx.query(
      'UPDATE idempotency_keys SET status = $3, response = $4 WHERE scope = $1 AND key = $2',
      [scopeOf(ref.userId), ref.key, status, response],
    ),
  );
}

/** Frees a key whose request failed before writing, so a retry runs again. */
export async function releaseKey(db: Db, ref: KeyRef): Promise<void> {
  await asScope(db, ref.userId, (tx) =>
    // A key whose write committed stays: running the request again would write twice.
    tx.query(
      'DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL AND NOT committed',
      [scopeOf(ref.userId), ref.key],
    ),
  );
}

/** Deletes expired keys (a bounded batch); returns how many. */
export async function sweepExpiredKeys(db: Db, limit = 1_000): Promise<number> {
  const { rowCount } = await asWorker(db, (tx) =>
    tx.query(
      `DELETE FROM idempotency_keys WHERE ctid IN (
         SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1)`,
      [limit],
    ),
  );
  return rowCount;
}
