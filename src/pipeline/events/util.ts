import { type Doc, isProjectionError, type ProjectionContainer } from '../../projections/port.ts';

/** Deletes items by id from one partition; a status other than deleted/absent is an error (e.g. throttled). */
export async function deleteItems(
  container: ProjectionContainer,
  partitionKey: string,
  ids: string[],
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < ids.length; i += 100) {
    const chunk = ids.slice(i, i + 100);
    const { statuses } = await container.bulk(
      chunk.map((id) => ({ op: 'delete' as const, id, partitionKey })),
    );
    const bad = statuses.findIndex((s) => s !== 204 && s !== 200 && s !== 404);
    if (bad >= 0)
      throw new Error(`${container.def.name}: delete of ${chunk[bad]} answered ${statuses[bad]}`);
    deleted += statuses.filter((s) => s !== 404).length;
  }
  return deleted;
}

/**
 * Deletes every item of a partition matching the filters (all of it when none): reads
 * ids page by page from the start again after each delete round, since deleting under a
 * continuation token could skip items.
 */
export async function deleteWhere(
  container: ProjectionContainer,
  partitionKey: string,
  filters: { field: string; value: string }[] = [],
): Promise<number> {
  let total = 0;
  for (;;) {
    const page = await container.query<Doc>({
      partitionKey,
      filters: filters.map((f) => ({ field: f.field, op: '=' as const, value: f.value })),
      limit: 500,
    });
    if (page.items.length === 0) return total;
    const n = await deleteItems(
      container,
      partitionKey,
      page.items.map((d) => d.id),
    );
    // Listed but already gone (a concurrent delete): the next read will not list them.
    if (n === 0 && page.continuation === null) return total;
    total += n;
  }
}

/** Creates a document unless one with its id exists (replays must not reset e.g. `read`). */
export async function createIfAbsent(container: ProjectionContainer, doc: Doc): Promise<boolean> {
  const existing = await container.read(doc.id, container.partitionKeyOf(doc));
  if (existing.resource) return false;
  try {
    await container.create(doc);
    return true;
  } catch (err) {
    if (isProjectionError(err, 'conflict')) return false;
    throw err;
  }
}
