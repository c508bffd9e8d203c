import type { DomainContext } from '../domain/context.ts';
import { Health } from '../observability/health.ts';
import { silentLogger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { buildApp } from './app.ts';

/**
 * The OpenAPI document exactly as a running server serves it at /openapi.json, built
 * without opening any store: routes are registered but never called, so the domain
 * context is never touched.
 */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const metrics = new Metrics();
  const app = await buildApp({
    ctx: {} as DomainContext,
    jwtSecret: 'document-only-secret-never-signs-a-token',
    log: silentLogger,
    metrics,
    ops: { health: new Health(), metrics },
  });
  try {
    return app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await app.close();
  }
}
