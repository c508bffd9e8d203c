import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { asUser } from '../../canonical/session.ts';
import { grantRole, USER_ROLES } from '../../canonical/user-roles.ts';
import { email, id, text } from '../../domain/schemas.ts';
import { ForbiddenError } from '../../errors.ts';
import type { OpsSeries } from '../../observability/ops-series.ts';
import { rebuildAll } from '../../ops/feed.ts';
import {
  PROJECTION_KINDS,
  type ReconcileReport,
  reconcile,
  totalDrift,
} from '../../ops/reconcile/index.ts';
import { outboxStatus, redrive, troubledEvents } from '../../outbox/status.ts';
import type { PipelineContext } from '../../pipeline/context.ts';
import { regenerateUserFeed } from '../../pipeline/regenerate-feed.ts';
import type { PipelineWorkers } from '../../pipeline/workers.ts';
import type { Db } from '../../sql/db.ts';
import { authenticate } from '../auth.ts';

export interface OpsAdminOptions {
  /** Both stores and tuning, as the runbook commands get them. */
  pipeline: PipelineContext;
  /** The relay and processors, in processes that run them (leases and lag come from them). */
  workers?: PipelineWorkers;
  /** Token in DATA_DIR/admin-token (embedded mode): what the CLI presents beside a live server. */
  adminToken?: string;
  series: OpsSeries;
  /** The API's pool: whether a caller is an admin is asked in the caller's session (default pipeline.db). */
  sessionsDb?: Db;
}

export interface LastReconcile {
  at: string;
  repaired: boolean;
  totalDrift: number;
  report: ReconcileReport;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who called an ops endpoint, for audit rows: `user:<id>` or `admin-token`. */
    opsActor?: string;
  }
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const silent = { log: () => {}, error: () => {}, interactive: false };

/**
 * The ops console's data and the runbooks a live server runs for the CLI, under /ops/api.
 * Admins only (decided from the users row), or the local admin token. Not part of the
 * public API document.
 */
export const opsAdminRoutes: FastifyPluginAsyncZod<OpsAdminOptions> = async (app, opts) => {
  const { pipeline: ctx, workers, adminToken, series } = opts;
  let lastReconcile: LastReconcile | null = null;

  app.addHook('onRequest', async (request: FastifyRequest, reply) => {
    const token = request.headers['x-asora-admin-token'];
    if (typeof token === 'string' && adminToken && sameSecret(token, adminToken)) {
      request.opsActor = 'admin-token';
      return;
    }
    await authenticate(request, reply);
    const isAdmin = await asUser(
      opts.sessionsDb ?? ctx.db,
      request.userId,
      async (_tx, c) => c.role === 'admin',
    );
    if (!isAdmin) throw new ForbiddenError('the ops console is for admins only');
    request.opsActor = `user:${request.userId}`;
  });

  const hide = { hide: true } as const;

  app.get('/ops/api/outbox', { schema: hide }, async () => ({
    status: await outboxStatus(ctx.db),
    events: await troubledEvents(ctx.db),
  }));

  app.post(
    '/ops/api/outbox/redrive',
    {
      schema: {
        ...hide,
        body: z
          .object({
            deadLettered: z.boolean().optional(),
            failed: z.boolean().optional(),
            ids: z
              .array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER))
              .max(1000)
              .optional(),
          })
          .strict(),
      },
    },
    async (request) => {
      const n = await redrive(ctx.db, request.body);
      request.log.info(
        { actor: request.opsActor, selection: request.body, redriven: n },
        'outbox redrive',
      );
      return { redriven: n };
    },
  );

  app.get('/ops/api/leases', { schema: hide }, async () => {
    if (!workers) return { processors: [], runsProcessors: false };
    // The most recent interval in which the container's processor handled anything.
    const lastDelay = (container: string) =>
      series.points.findLast((pt) => pt.delaySeconds[container] !== undefined)?.delaySeconds[
        container
      ] ?? null;
    const processors = await Promise.all(
      Object.values(workers.processors).map(async (p) => ({
        processor: p.name,
        container: p.container,
        delaySeconds: lastDelay(p.container),
        leases: await p.estimate(),
      })),
    );
    return { processors, runsProcessors: true };
  });

  app.get('/ops/api/series', { schema: hide }, async () => ({ points: series.points }));

  app.get('/ops/api/reconcile', { schema: hide }, async () => ({ last: lastReconcile }));

  app.post(
    '/ops/api/reconcile',
    {
      schema: {
        ...hide,
        body: z
          .object({
            repair: z.boolean().optional(),
            kinds: z
              .array(z.enum(PROJECTION_KINDS as [string, ...string[]]))
              .min(1)
              .optional(),
            sample: z.number().int().positive().optional(),
          })
          .strict(),
      },
    },
    async (request) => {
      const b = request.body;
      const report = await reconcile(ctx, {
        repair: b.repair === true,
        kinds: b.kinds as (typeof PROJECTION_KINDS)[number][] | undefined,
        feedSample: b.sample,
      });
      lastReconcile = {
        at: new Date().toISOString(),
        repaired: b.repair === true,
        totalDrift: totalDrift(report),
        report,
      };
      request.log.info(
        { actor: request.opsActor, totalDrift: lastReconcile.totalDrift },
        'reconcile',
      );
      return lastReconcile;
    },
  );

  app.post(
    '/ops/api/feed/rebuild',
    {
      schema: {
        ...hide,
        body: z.union([
          z.object({ userId: id }).strict(),
          z
            .object({
              all: z.literal(true),
              concurrency: z.number().int().min(1).max(64).optional(),
            })
            .strict(),
        ]),
      },
    },
    async (request) => {
      const b = request.body;
      if ('userId' in b) return { one: await regenerateUserFeed(ctx, b.userId) };
      return { all: await rebuildAll(ctx, silent, { concurrency: b.concurrency }) };
    },
  );

  app.post(
    '/ops/api/users/grant-role',
    {
      schema: {
        ...hide,
        body: z
          .object({
            email,
            role: z.enum(USER_ROLES),
            operator: text().max(100).optional(),
          })
          .strict(),
      },
    },
    async (request) => {
      const { email, role, operator } = request.body;
      const actor = [request.opsActor, operator].filter(Boolean).join(' ');
      // An admin user is the audit row's actor_id; the local token has none.
      return grantRole(ctx.db, email, role, { actor, actorId: request.userId || undefined });
    },
  );
};
