import type { DomainContext } from '../domain/context.ts';
import type { IdempotentHandler } from './idempotency.ts';
import type { LimitHandler } from './rate-limits.ts';

/** What every route plugin gets. */
export interface RouteOptions {
  ctx: DomainContext;
  /** preHandler for POSTs that create something (after authentication). */
  idempotent: IdempotentHandler;
  /** preHandler for login and registration: per-IP and per-account attempt limits. */
  limitAuth: LimitHandler;
}
