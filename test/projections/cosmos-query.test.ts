import { describe, expect, it } from 'vitest';
import { buildSql } from '../../src/projections/cosmos/query.ts';
import type { ContainerDef } from '../../src/projections/port.ts';
import { containerDef } from '../../src/readmodel/containers.ts';

/** The Cosmos SQL the adapter sends: parameterised, with the filter properties leading the ORDER BY. */
describe('Cosmos query text', () => {
  const def = (n: string) => containerDef(n) as ContainerDef;

  it('leads a feed page ORDER BY with the partition key, as the composite index needs', () => {
    const q = buildSql(def('userFeed'), {
      partitionKey: 'u1',
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 20,
    });
    expect(q.query).toBe(
      'SELECT * FROM c WHERE c["recipientId"] = @p0 ORDER BY c["recipientId"] ASC, c["createdAt"] DESC',
    );
    expect(q.parameters).toEqual([{ name: '@p0', value: 'u1' }]);
  });

  it('uses the exact reverse of an index for the reverse order, and every equality filter of the index', () => {
    const asc = buildSql(def('userFeed'), {
      partitionKey: 'u1',
      orderBy: [{ field: 'createdAt', direction: 'ASC' }],
      limit: 5,
    });
    expect(asc.query).toMatch(/ORDER BY c\["recipientId"\] DESC, c\["createdAt"\] ASC$/);
    const likes = buildSql(def('reactions'), {
      partitionKey: 'p1',
      filters: [{ field: 'type', op: '=', value: 'like' }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 5,
    });
    expect(likes.query).toBe(
      'SELECT * FROM c WHERE c["postId"] = @p0 AND c["type"] = @p1 ORDER BY c["postId"] ASC, c["type"] ASC, c["createdAt"] DESC',
    );
  });

  it('leaves the ORDER BY alone when no index can serve a longer one, and puts values only in parameters', () => {
    const q = buildSql(def('reactions'), {
      partitionKey: "p'1",
      filters: [{ field: 'createdAt', op: '>', value: '" OR 1=1' }],
      orderBy: [{ field: 'createdAt', direction: 'DESC' }],
      limit: 5,
    });
    expect(q.query).toBe(
      'SELECT * FROM c WHERE c["postId"] = @p0 AND c["createdAt"] > @p1 ORDER BY c["createdAt"] DESC',
    );
    expect(q.parameters?.map((p) => p.value)).toEqual(["p'1", '" OR 1=1']);
  });
});
