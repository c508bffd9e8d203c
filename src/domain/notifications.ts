import { NotFoundError } from '../errors.ts';
import { type Filter, isProjectionError } from '../projections/port.ts';
import { CONTAINERS, type NotificationDoc, type NotificationType } from '../readmodel/documents.ts';
import type { DomainContext } from './context.ts';
import { decodeStoreCursor, encodeStoreCursor } from './cursor.ts';
import { readContext } from './read-context.ts';

export interface Notification {
  id: string;
  type: NotificationType;
  actorId: string;
  subjectId: string;
  read: boolean;
  createdAt: string;
}

const present = (d: NotificationDoc): Notification => ({
  id: d.id,
  type: d.type,
  actorId: d.actorId,
  subjectId: d.subjectId,
  read: d.read === true,
  createdAt: d.createdAt,
});

/**
 * Notifications live in the caller's partition; the session check refuses deleted accounts.
 * It is the read context's (cached a few seconds, dropped when the account is deleted here).
 */
const live = (ctx: DomainContext, userId: string) => readContext(ctx, userId);

/** The caller's notifications, newest first; `unread` keeps only unread ones. */
export async function listNotifications(
  ctx: DomainContext,
  userId: string,
  q: { unread?: boolean; limit: number; cursor?: string },
): Promise<{ items: Notification[]; cursor: string | null }> {
  const continuation = decodeStoreCursor(q.cursor);
  await live(ctx, userId);
  const filters: Filter[] = q.unread ? [{ field: 'read', op: '=', value: false }] : [];
  const page = await ctx.store.container(CONTAINERS.notifications).query<NotificationDoc>({
    partitionKey: userId,
    filters,
    orderBy: [{ field: 'createdAt', direction: 'DESC' }],
    limit: q.limit,
    continuation,
  });
  return { items: page.items.map(present), cursor: encodeStoreCursor(page.continuation) };
}

/** Marks one notification read (idempotent); 404 if it is not the caller's. */
export async function markRead(
  ctx: DomainContext,
  userId: string,
  notificationId: string,
): Promise<void> {
  await live(ctx, userId);
  try {
    await ctx.store
      .container(CONTAINERS.notifications)
      .patch(notificationId, userId, [{ op: 'set', path: '/read', value: true }]);
  } catch (err) {
    if (isProjectionError(err, 'not_found')) throw new NotFoundError('notification not found');
    throw err;
  }
}

/** Marks every unread notification of the caller read; returns how many changed. */
export async function markAllRead(ctx: DomainContext, userId: string): Promise<number> {
  await live(ctx, userId);
  const container = ctx.store.container(CONTAINERS.notifications);
  let changed = 0;
  // Each pass re-queries from the start: patched items leave the unread filter.
  for (let pass = 0; pass < 10_000; pass++) {
    const page = await container.query<NotificationDoc>({
      partitionKey: userId,
      filters: [{ field: 'read', op: '=', value: false }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 100,
    });
    if (page.items.length === 0) return changed;
    for (const d of page.items) {
      try {
        await container.patch(d.id, userId, [{ op: 'set', path: '/read', value: true }]);
        changed++;
      } catch (err) {
        if (!isProjectionError(err, 'not_found')) throw err;
      }
    }
  }
  return changed;
}
