import { isProjectionError, type ProjectionContainer } from '../../projections/port.ts';

/**
 * Makes a document equal to canonical truth: creates it, or replaces it under the etag
 * it was read with, so a concurrent pipeline write is never overwritten blindly (on a
 * lost race the caller's `build` runs again with fresh canonical data). Unlike the
 * pipeline's upsertIfNewer this also rewrites a document at the same or a higher
 * `sourceVersion` when its content is wrong, since reconcile exists for that case.
 * `build` returns undefined when the document should not exist (nothing is written).
 */
export async function convergeDoc<T extends { id: string; [k: string]: unknown }>(
  container: ProjectionContainer,
  id: string,
  partitionKey: string,
  build: () => Promise<T | undefined>,
  maxAttempts = 5,
): Promise<boolean> {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const want = await build();
    if (!want) return false;
    const current = await container.read<T>(id, partitionKey);
    try {
      if (!current.resource) await container.create(want);
      else await container.upsert(want, { ifMatch: current.resource._etag });
      return true;
    } catch (err) {
      if (isProjectionError(err, 'conflict') || isProjectionError(err, 'precondition_failed'))
        continue;
      throw err;
    }
  }
  throw new Error(`reconcile: ${container.def.name}/${id} kept changing under us`);
}
