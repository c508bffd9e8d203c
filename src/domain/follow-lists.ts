import { asUser } from '../canonical/session.ts';
import { followsPage } from '../canonical/tables/follows.ts';
import { userVisible } from '../canonical/tables/users.ts';
import { NotFoundError } from '../errors.ts';
import type { DomainContext } from './context.ts';
import { decodeKeyset, encodeKeyset } from './cursor.ts';

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
  return asUser(ctx.db, userId, async (tx) => {
    if (!(await userVisible(tx, subjectId))) throw new NotFoundError('user not found');
    const rows = await followsPage(tx, subjectId, direction, after, page.limit + 1);
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit);
    const last = items.at(-1);
    return {
      items: items.map((r) => ({
        userId: r.userId,
        displayName: r.displayName,
        followedAt: r.createdAt,
      })),
      cursor: more && last ? encodeKeyset({ t: last.createdAt, id: last.id }) : null,
    };
  });
}
