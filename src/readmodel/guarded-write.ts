import { isProjectionError, type ProjectionContainer } from '../projections/port.ts';

export type GuardedOutcome = 'written' | 'stale';

/**
 * Writes a projection document only if it reflects a newer canonical version than the
 * stored one (by `sourceVersion`), with etag-conditional writes so concurrent writers
 * (relay, direct write, replays) can land in any order without regressing a document.
 */
export async function upsertIfNewer<
  T extends { id: string; sourceVersion: number; [k: string]: unknown },
>(container: ProjectionContainer, doc: T, maxAttempts = 8): Promise<GuardedOutcome> {
  const pk = container.partitionKeyOf(doc);
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const current = await container.read<T>(doc.id, pk);
    try {
      if (!current.resource) {
        await container.create(doc);
        return 'written';
      }
      if (current.resource.sourceVersion >= doc.sourceVersion) return 'stale';
      await container.upsert(doc, { ifMatch: current.resource._etag });
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
