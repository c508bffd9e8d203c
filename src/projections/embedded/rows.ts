import type { Doc, Stored } from '../port.ts';
import { ProjectionError } from '../port.ts';

export interface DocRow {
  body: Doc;
  etag: string;
  ts: number | string;
}

export const toStored = <T extends Doc>(r: DocRow): Stored<T> =>
  ({ ...(r.body as T), _etag: r.etag, _ts: Number(r.ts) }) as Stored<T>;

/** A failure of the database itself (not of the input) becomes a typed 'unavailable'. */
export function storeError(err: unknown): ProjectionError {
  if (err instanceof ProjectionError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new ProjectionError('unavailable', `embedded projection store: ${msg}`, err);
}
