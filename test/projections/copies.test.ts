import { describe, expect, it } from 'vitest';
import { checkCopySets, copyAt, expandCopies } from '../../src/projections/copies.ts';
import { type ContainerDef, isProjectionError } from '../../src/projections/port.ts';

const nested: ContainerDef = { name: 'nested', partitionKey: '/owner/id' } as ContainerDef;

describe('copy sets (the expansion a store that writes every copy uses)', () => {
  it('puts the target id and partition key in a copy, copying a nested key path, not sharing it', () => {
    const doc = { id: 'a', owner: { id: 'o1', name: 'n' }, text: 't' };
    const copy = copyAt(nested, doc, { id: 'b', partitionKey: 'o2' });
    expect(copy).toEqual({ id: 'b', owner: { id: 'o2', name: 'n' }, text: 't' });
    expect(doc.owner.id).toBe('o1');
    expect(expandCopies(nested, [{ doc, targets: [{ id: 'c', partitionKey: 'o3' }] }])).toEqual([
      { op: 'upsert', doc: { id: 'c', owner: { id: 'o3', name: 'n' }, text: 't' } },
    ]);
  });

  it('refuses malformed sets with bad_request and counts the copies of good ones', () => {
    const doc = { id: 'a', owner: { id: 'o1' } };
    expect(checkCopySets(nested, [{ doc, targets: [{ id: 'x', partitionKey: 'y' }] }])).toBe(1);
    for (const sets of [
      'x',
      [null],
      [{ doc, targets: [null] }],
      [{ doc, targets: [{ id: 'x' }] }],
    ]) {
      let err: unknown;
      try {
        checkCopySets(nested, sets as never);
      } catch (e) {
        err = e;
      }
      expect(isProjectionError(err, 'bad_request'), String(err)).toBe(true);
    }
  });
});
