import type { FastifyPluginAsync } from 'fastify';
import type { Health } from '../../observability/health.ts';
import type { Metrics } from '../../observability/metrics.ts';

export interface OpsRoutesOptions {
  health: Health;
  metrics: Metrics;
}

/**
 * Operational endpoints (no auth, outside /v1): liveness, readiness with per-component
 * detail (503 when any component is down), and Prometheus metrics.
 */
export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, { health, metrics }) => {
  app.get('/health/live', async () => health.live());

  app.get('/health/ready', async (_req, reply) => {
    const report = await health.ready();
    return reply.code(report.status === 'ok' ? 200 : 503).send(report);
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await metrics.render();
    return reply.type(metrics.contentType).send(body);
  });
};
