import {
  type BulkOp,
  type ContainerDef,
  type CopySet,
  type Doc,
  type ItemKey,
  ProjectionError,
} from './port.ts';
import { checkId, checkPartitionKey, partitionKeyField } from './validate.ts';

/**
 * upsertCopies' input checks, shared by both adapters: every set a document and a list of
 * targets, every target a valid id and partition key (the same value where the partition
 * key is the id). Returns how many copies there are.
 */
export function checkCopySets(def: ContainerDef, sets: CopySet[]): number {
  const keyIsId = def.partitionKey === '/id';
  if (!Array.isArray(sets))
    throw new ProjectionError('bad_request', 'upsertCopies needs an array of copy sets');
  let n = 0;
  for (const set of sets) {
    if (!set || !Array.isArray(set.targets))
      throw new ProjectionError('bad_request', 'a copy set needs a document and a list of targets');
    for (const t of set.targets) {
      checkId(t?.id);
      checkPartitionKey(t?.partitionKey);
      if (keyIsId && t.id !== t.partitionKey)
        throw new ProjectionError(
          'bad_request',
          `${def.name}: the partition key is the id, so a target's id and partition key must match`,
        );
    }
    n += set.targets.length;
  }
  return n;
}

/** `doc` with `key`'s id and partition key (a nested partition-key path is copied, not shared). */
export function copyAt(def: ContainerDef, doc: Doc, key: ItemKey): Doc {
  const path = partitionKeyField(def);
  const out: Record<string, unknown> = { ...doc, id: key.id };
  let cur = out;
  path.forEach((seg, i) => {
    if (i === path.length - 1) cur[seg] = key.partitionKey;
    else {
      const next = cur[seg];
      cur[seg] = next && typeof next === 'object' && !Array.isArray(next) ? { ...next } : {};
      cur = cur[seg] as Record<string, unknown>;
    }
  });
  return out as Doc;
}

/** The copies as plain bulk upserts, in order: for a store that writes each copy anyway. */
export const expandCopies = (def: ContainerDef, sets: CopySet[]): BulkOp[] =>
  sets.flatMap((s) =>
    s.targets.map((t) => ({ op: 'upsert' as const, doc: copyAt(def, s.doc, t) })),
  );
