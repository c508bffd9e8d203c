import { asUser } from '../canonical/session.ts';
import {
  type Appeal,
  appealsBy,
  appealTarget,
  insertAppeal,
  presentAppeal,
} from '../canonical/tables/appeals.ts';
import {
  insertCase,
  type ModerationCase,
  presentCase,
} from '../canonical/tables/moderation-cases.ts';
import { postExists } from '../canonical/tables/posts.ts';
import { userExists } from '../canonical/tables/users.ts';
import { ConflictError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { DomainContext } from './context.ts';
import { FOREIGN_KEY_VIOLATION, sqlState, UNIQUE_VIOLATION } from './pg-errors.ts';
import type { AppealInput, ReportInput } from './schemas.ts';

export type { Appeal, ModerationCase };

/** POST /v1/reports: a moderation case about content the reporter can see. */
export async function report(
  ctx: DomainContext,
  userId: string,
  input: ReportInput,
): Promise<ModerationCase> {
  return asUser(ctx.db, userId, async (tx) => {
    const exists =
      input.contentType === 'post'
        ? await postExists(tx, input.contentId)
        : await userExists(tx, input.contentId);
    if (!exists) throw new NotFoundError(`${input.contentType} not found`);
    return presentCase(await insertCase(tx, userId, input));
  });
}

/** POST /v1/appeals: one appeal per case, by the owner of the moderated content. */
export async function appeal(
  ctx: DomainContext,
  userId: string,
  input: AppealInput,
): Promise<Appeal> {
  try {
    return await asUser(ctx.db, userId, async (tx) => {
      const target = await appealTarget(tx, input.caseId);
      if (!target) throw new NotFoundError('moderation case not found');
      if (target.ownerId !== userId) {
        throw new ForbiddenError('only the author of the moderated content can appeal');
      }
      return presentAppeal(await insertAppeal(tx, input.caseId, userId, input.reason));
    });
  } catch (err) {
    if (sqlState(err) === FOREIGN_KEY_VIOLATION)
      throw new NotFoundError('moderation case not found');
    if (sqlState(err) === UNIQUE_VIOLATION)
      throw new ConflictError('you already appealed this case', 'appeal_exists');
    throw err;
  }
}

/** GET /v1/me/appeals. */
export async function myAppeals(ctx: DomainContext, userId: string): Promise<Appeal[]> {
  return asUser(ctx.db, userId, async (tx) => {
    const rows = await appealsBy(tx, userId, { newestFirst: true, limit: 500 });
    return rows.map(presentAppeal);
  });
}
