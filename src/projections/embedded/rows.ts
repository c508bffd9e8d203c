import type { Doc, Stored } from '../port.ts';
import { ProjectionError } from '../port.ts';

export interface DocRow {
  body: Doc;
  etag: string;
  ts: number | string;
}

export const toStored = <T extends Doc>(r: DocRow): Stored<T> =>
  ({ ...(r.body as T), _etag: r.etag, _ts: Number(r.ts) }) as Stored<T>;

/**
 * A value PostgreSQL cannot store (SQLSTATE class 22, data exception: a NUL character or a
 * lone surrogate in a string) is the input's fault: 'bad_request', and the statement wrote
 * nothing. Any other failure of the database becomes a typed 'unavailable'.
 */
export function storeError(err: unknown): ProjectionError {
  if (err instanceof ProjectionError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  const sqlState = (err as { code?: unknown } | null)?.code;
  if (typeof sqlState === 'string' && sqlState.startsWith('22'))
    return new ProjectionError('bad_request', `embedded projection store: ${msg}`, err);
  return new ProjectionError('unavailable', `embedded projection store: ${msg}`, err);
}
