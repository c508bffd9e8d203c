import { createHash } from 'node:crypto';
import {
  type Doc,
  isProjectionError,
  type ProjectionContainer,
  type ProjectionStore,
  type Stored,
} from '../projections/port.ts';

/**
 * Dead letters: changes a processor gave up on after its batch retries ran out, kept in
 * the lease container (partition key /id) so an operator can list and redrive them. A
 * redrive rewrites the item unchanged in its container, which puts it at the end of the
 * change feed: every processor on that container sees it again (handlers are idempotent).
 */
export interface DeadLetterDoc extends Doc {
  id: string;
  /** The processor that gave up (not `processorName`, so lease queries never match). */
  deadLetterOf: string;
  container: string;
  itemId: string;
  partitionKey: string;
  /** The item's _ts when it failed (a redrive of a newer version is not needed). */
  itemTs: number;
  leaseId: string;
  error: string;
  attempts: number;
  recordedAt: string;
}

export const deadLetterId = (processorName: string, container: string, pk: string, id: string) =>
  `dlq:${processorName}:${createHash('sha1')
    .update(JSON.stringify([container, pk, id]))
    .digest('hex')
    .slice(0, 24)}`;

export async function recordDeadLetter(
  leases: ProjectionContainer,
  monitored: ProjectionContainer,
  e: { processorName: string; leaseId: string; item: Stored; error: unknown; attempts: number },
): Promise<DeadLetterDoc> {
  const pk = monitored.partitionKeyOf(e.item);
  const doc: DeadLetterDoc = {
    id: deadLetterId(e.processorName, monitored.def.name, pk, e.item.id),
    deadLetterOf: e.processorName,
    container: monitored.def.name,
    itemId: e.item.id,
    partitionKey: pk,
    itemTs: e.item._ts,
    leaseId: e.leaseId,
    error: (e.error instanceof Error ? e.error.message : String(e.error)).slice(0, 2000),
    attempts: e.attempts,
    recordedAt: new Date().toISOString(),
  };
  await leases.upsert(doc);
  return doc;
}

/** Dead letters, oldest first; of one processor when given. */
export async function listDeadLetters(
  leases: ProjectionContainer,
  processorName?: string,
): Promise<Stored<DeadLetterDoc>[]> {
  const out: Stored<DeadLetterDoc>[] = [];
  let continuation: string | null = null;
  do {
    const page: { items: Stored<DeadLetterDoc>[]; continuation: string | null } =
      await leases.query<DeadLetterDoc>({
        filters: processorName
          ? [{ field: 'deadLetterOf', op: '=', value: processorName }]
          : [{ field: 'deadLetterOf', op: '>=', value: '' }],
        limit: 1000,
        continuation,
      });
    out.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  return out.sort((a, b) => a.recordedAt.localeCompare(b.recordedAt) || a.id.localeCompare(b.id));
}

export type RedriveOutcome = 'redriven' | 'item_gone';

/** Puts the item back on the change feed (rewritten as it is now) and drops the dead letter. */
export async function redriveDeadLetter(
  store: ProjectionStore,
  leases: ProjectionContainer,
  dl: Stored<DeadLetterDoc>,
): Promise<RedriveOutcome> {
  const c = store.container(dl.container);
  const cur = (await c.read(dl.itemId, dl.partitionKey)).resource;
  if (cur) {
    const { _etag, _ts, ...body } = cur;
    // Conditional: a write landing meanwhile is on the feed already.
    await c.upsert(body as Doc, { ifMatch: _etag }).catch((err: unknown) => {
      if (!isProjectionError(err, 'precondition_failed')) throw err;
    });
  }
  await leases.delete(dl.id, dl.id, { ifMatch: dl._etag });
  return cur ? 'redriven' : 'item_gone';
}
