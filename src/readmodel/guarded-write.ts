import { isProjectionError, type ProjectionContainer, type Stored } from '../projections/port.ts';

export type GuardedOutcome = 'written' | 'stale';

export interface GuardOptions {
  maxAttempts?: number;
  /** Fields another writer keeps on the same document (e.g. posts_v2 counts), carried over. */
  carry?: readonly string[];
  /**
   * Asked before a live (not soft-deleted) document is created where none is stored: is
   * this version still canonical? A missing document may be a tombstone that expired (its
   * `ttl`), and a late or replayed older version must not bring the item back. Without it,
   * only the stored document's version guards.
   */
  mayCreate?: () => Promise<boolean>;
}

/**
 * Writes a projection document only if it reflects a newer canonical version than the
 * stored one (by `sourceVersion`), with etag-conditional writes so concurrent writers
 * (relay, direct write, replays) can land in any order without regressing a document.
 */
export async function upsertIfNewer<
  T extends { id: string; sourceVersion: number; deleted?: boolean; [k: string]: unknown },
>(container: ProjectionContainer, doc: T, opts: GuardOptions = {}): Promise<GuardedOutcome> {
  const { maxAttempts = 8, carry = [], mayCreate } = opts;
  const pk = container.partitionKeyOf(doc);
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const current = await container.read<T>(doc.id, pk);
    try {
      if (!current.resource) {
        if (!doc.deleted && mayCreate && !(await mayCreate())) return 'stale';
        await container.create(doc);
        return 'written';
      }
      if (current.resource.sourceVersion >= doc.sourceVersion) return 'stale';
      const kept: Record<string, unknown> = {};
      for (const f of carry) if (current.resource[f] !== undefined) kept[f] = current.resource[f];
      await container.upsert({ ...doc, ...kept }, { ifMatch: current.resource._etag });
      return 'written';
    } catch (err) {
      // Someone wrote between our read and write: read again and re-decide.
      if (isProjectionError(err, 'conflict') || isProjectionError(err, 'precondition_failed'))
        continue;
      throw err;
    }
  }
  throw new Error(`upsertIfNewer: ${container.def.name}/${doc.id} kept changing under us`);
}

/**
 * Read, recompute, write only if unchanged: `build` computes the new document from canonical
 * AFTER the current one was read, and the write is conditional on its etag (a create when
 * there is none). A writer that lost the race reads and computes again. So the last write to
 * land always used a canonical read taken after every earlier write: a slow recompute (the
 * count read 8 s before its write) can never replace a newer count with an older one.
 * `build` returning undefined writes nothing.
 */
export async function recomputeIfUnchanged<T extends { id: string; [k: string]: unknown }>(
  container: ProjectionContainer,
  id: string,
  partitionKey: string,
  build: (current: Stored<T> | undefined) => Promise<T | undefined>,
  maxAttempts = 8,
): Promise<T | undefined> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const current = (await container.read<T>(id, partitionKey)).resource;
    const next = await build(current);
    if (!next) return undefined;
    try {
      if (current) await container.upsert(next, { ifMatch: current._etag });
      else await container.create(next);
      return next;
    } catch (err) {
      if (isProjectionError(err, 'conflict') || isProjectionError(err, 'precondition_failed'))
        continue;
      throw err;
    }
  }
  throw new Error(`recomputeIfUnchanged: ${container.def.name}/${id} kept changing under us`);
}
