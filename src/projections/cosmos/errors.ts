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

export const substatusOf = (err: unknown): number | undefined => {
  const e = err as { substatus?: unknown; headers?: Record<string, unknown> } | null;
  if (typeof e?.substatus === 'number') return e.substatus;
  const h = Number(e?.headers?.['x-ms-substatus']);
  return Number.isFinite(h) ? h : undefined;
};

/** 404/1002: the replica has not caught up with the session token yet; retriable, not "missing". */
export const READ_SESSION_NOT_AVAILABLE = 1002;

/** The item (or container) is not there: a plain 404, not 404/1002. */
export const isMissing = (err: unknown): boolean =>
  statusOf(err) === 404 && substatusOf(err) !== READ_SESSION_NOT_AVAILABLE;

/**
 * Worth retrying at once, a few times: 449 (retry with: a concurrent server-side update)
 * and 404/1002 (session not yet readable on this replica). The SDK retries neither here.
 */
export const isRetriable = (err: unknown): boolean =>
  statusOf(err) === 449 ||
  (statusOf(err) === 404 && substatusOf(err) === READ_SESSION_NOT_AVAILABLE);

// Network failures have string codes (Node's) or are aborts/timeouts: the store is unreachable.
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

function isNetwork(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; cause?: unknown } | null;
  if (typeof e?.code === 'string' && NETWORK.has(e.code)) return true;
  if (e?.name === 'AbortError' || e?.name === 'TimeoutError') return true;
  return e?.cause !== undefined && e.cause !== err && isNetwork(e.cause);
}

/**
 * Cosmos status codes → the port's typed errors (a ProjectionError passes through).
 * Transient conditions (5xx, 408, 449, 404/1002, 410 outside the change feed, network) are
 * 'unavailable'; an error with no status that is not a network failure (an SDK or
 * programming error, a refused key) is 'internal', which no caller retries.
 */
export function cosmosError(err: unknown, what: string): ProjectionError {
  if (err instanceof ProjectionError) return err;
  const status = statusOf(err);
  const sub = substatusOf(err);
  const byStatus: Record<number, ProjectionErrorCode> = {
    400: 'bad_request',
    401: 'internal',
    403: 'internal',
    404: sub === READ_SESSION_NOT_AVAILABLE ? 'unavailable' : 'not_found',
    409: 'conflict',
    412: 'precondition_failed',
    413: 'bad_request',
    429: 'throttled',
  };
  let code: ProjectionErrorCode;
  if (status !== undefined) code = byStatus[status] ?? 'unavailable';
  else code = isNetwork(err) ? 'unavailable' : 'internal';
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const tag = status === undefined ? '' : `${status}${sub ? `/${sub}` : ''} `;
  return new ProjectionError(code, `${what}: ${tag}${msg}`.trim(), err);
}
