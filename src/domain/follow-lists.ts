import { asUser } from '../canonical/session.ts';
import { iso } from '../canonical/time.ts';
import { NotFoundError } from '../errors.ts';
import type { DomainContext } from './context.ts';
import { decodeKeyset, encodeKeyset } from './cursor.ts';
import { userVisible } from './users.ts';

export interface FollowEntry {
  userId: string;
  /** null when the profile is not visible to the caller (privacy level). */
  displayName: string | null;
  followedAt: string;
}

/** A user's followers or followees, newest first, keyset-paged (canonical, under the caller's RLS). */
export async function listFollows(
  ctx: DomainContext,
  userId: string,
  subjectId: string,
  direction: 'followers' | 'following',
  page: { limit: number; cursor?: string },
): Promise<{ items: FollowEntry[]; cursor: string | null }> {
  const after = decodeKeyset(page.cursor);
  const [self, other] =
    direction === 'followers' ? ['followee_id', 'follower_id'] : ['follower_id', 'followee_id'];
  return asUser(ctx.db, userId, async (tx) => {
    if (!(await userVisible(tx, subjectId))) throw new NotFoundError('user not found');
    const { rows } = await tx.query<{
      id: string;
      user_id: string;
      display_name: string | null;
      created_at: unknown;
    }>(
      `SELECT f.id, f.${other} AS user_id, p.display_name, f.created_at
         FROM follows f LEFT JOIN profiles p ON p.user_id = f.${other}
        WHERE f.${self} = $1
          AND ($2::timestamptz IS NULL OR (f.created_at, f.id) < ($2::timestamptz, $3::uuid))
        ORDER BY f.created_at DESC, f.id DESC
        LIMIT $4`,
      [subjectId, after?.t ?? null, after?.id ?? null, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items: items.map((r) => ({
        userId: r.user_id,
        displayName: r.display_name,
        followedAt: iso(r.created_at),
      })),
      cursor: more && last ? encodeKeyset({ t: iso(last.created_at), id: last.id }) : null,
    };
  });
}
