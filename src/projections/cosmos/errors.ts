import type { CosmosHeaders } from '@azure/cosmos';
import { ProjectionError, type ProjectionErrorCode } from '../port.ts';

/**
 * The request charge from the response headers. Parsed from `x-ms-request-charge`
 * ourselves: the change-feed response's `requestCharge` getter truncates fractions.
 */
export function chargeOf(headers: CosmosHeaders | undefined): number {
  const raw = headers?.['x-ms-request-charge'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) ? n : 0;
}

export const statusOf = (err: unknown): number | undefined => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** Cosmos status codes → the port's typed errors (a ProjectionError passes through). */
export function cosmosError(err: unknown, what: string): ProjectionError {
  if (err instanceof ProjectionError) return err;
  const status = statusOf(err);
  const byStatus: Record<number, ProjectionErrorCode> = {
    400: 'bad_request',
    404: 'not_found',
    409: 'conflict',
    412: 'precondition_failed',
    413: 'bad_request',
    429: 'throttled',
  };
  const code = (status !== undefined && byStatus[status]) || 'unavailable';
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new ProjectionError(code, `${what}: ${status ?? ''} ${msg}`.trim(), err);
}
