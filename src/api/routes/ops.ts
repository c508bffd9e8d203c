import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { Health } from '../../observability/health.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { errors, healthReport, liveness } from '../schemas.ts';

export interface OpsRoutesOptions {
  health: Health;
  metrics: Metrics;
}

/**
 * Operational endpoints (no auth, outside /v1): liveness, readiness with per-component
 * detail (503 when any component is down), and Prometheus metrics (401 without the operator
 * token when OPS_TOKEN is set; see security.ts).
 */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, { health, metrics }) => {
  const tags = ['ops'];
  app.get(
    '/health/live',
    { schema: { tags, summary: 'Liveness: the process answers', response: { 200: liveness } } },
    async () => health.live(),
  );

  const ready = { 200: healthReport, 503: healthReport };
  const readySummary = 'Readiness: 200 when every component is up, 503 otherwise';
  app.get(
    '/health/ready',
    { schema: { tags, summary: readySummary, response: ready } },
    async (_req, reply) => {
      const report = await health.ready();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );

  const text = {
    description: 'Prometheus text format',
    content: { 'text/plain': { schema: z.string() } },
  };
  app.get(
    '/metrics',
    { schema: { tags, summary: 'Prometheus metrics', response: { 200: text, ...errors(401) } } },
    async (_req, reply) => {
      const body = await metrics.render();
      return reply.type(metrics.contentType).send(body);
    },
  );
};
