import type { SqlQuerySpec } from '@azure/cosmos';
import type { ContainerDef, Query } from '../port.ts';
import { checkField, splitPath } from '../validate.ts';

/**
 * Builds a parameterised Cosmos SQL query. With a filter plus ORDER BY, Cosmos uses a
 * composite index only when the equality-filtered properties lead the ORDER BY in the
 * index's order, so the ORDER BY is extended with them: a feed page becomes
 * `WHERE c.recipientId = @p0 ORDER BY c.recipientId ASC, c.createdAt DESC`.
 */

type Dir = 'ASC' | 'DESC';

const prop = (field: string): string =>
  `c${checkField(field)
    .map((s) => `["${s}"]`)
    .join('')}`;

const fieldOfPath = (path: string): string => splitPath(path).join('.');

export function alignOrderBy(
  def: ContainerDef,
  equalityFields: Set<string>,
  orderBy: { field: string; direction: Dir }[],
): { field: string; direction: Dir }[] {
  if (orderBy.length === 0) return orderBy;
  // An index ending in /id (the keyset tie-breaker) also serves an ORDER BY without it.
  const indexes = (def.indexingPolicy.compositeIndexes ?? []).flatMap((ix) =>
    ix.length > 1 && ix[ix.length - 1]?.path === '/id' ? [ix, ix.slice(0, -1)] : [ix],
  );
  for (const ix of indexes) {
    const cols = ix.map((c) => ({
      field: fieldOfPath(c.path),
      direction: (c.order === 'descending' ? 'DESC' : 'ASC') as Dir,
    }));
    for (const reversed of [false, true]) {
      const dirs = cols.map((c) => ({
        ...c,
        direction: reversed ? ((c.direction === 'ASC' ? 'DESC' : 'ASC') as Dir) : c.direction,
      }));
      const start = dirs.length - orderBy.length;
      if (start < 0) continue;
      const tail = dirs.slice(start);
      if (
        !tail.every(
          (c, i) => c.field === orderBy[i]?.field && c.direction === orderBy[i]?.direction,
        )
      )
        continue;
      const prefix = dirs.slice(0, start);
      if (prefix.every((c) => equalityFields.has(c.field))) return [...prefix, ...orderBy];
    }
  }
  return orderBy;
}

/**
 * Keyset paging: rows strictly after `after` (the sort values of the last row shown) in
 * the order of `terms`. Used for every ORDER BY query, so a page never needs the SDK's
 * continuation (which a cross-partition ORDER BY does not return).
 */
function keysetAfter(
  terms: { field: string; direction: Dir }[],
  after: (string | number | boolean | null)[],
  param: (v: string | number | boolean | null) => string,
): string {
  const ors = terms.map((t, i) => {
    const eq = terms.slice(0, i).map((e, j) => `${prop(e.field)} = ${param(after[j] ?? null)}`);
    eq.push(`${prop(t.field)} ${t.direction === 'ASC' ? '>' : '<'} ${param(after[i] ?? null)}`);
    return `(${eq.join(' AND ')})`;
  });
  return `(${ors.join(' OR ')})`;
}

/** Properties the query pins to one value (the partition key and = filters). */
function equalityFields(def: ContainerDef, q: Query): Set<string> {
  const eq = new Set<string>();
  if (q.partitionKey !== undefined) eq.add(fieldOfPath(def.partitionKey));
  for (const f of q.filters ?? []) if (f.op === '=') eq.add(f.field);
  return eq;
}

/**
 * The ORDER BY with id as the last key when a composite index serves it that way (every
 * index of ours ends in /id for this), so the query can page by keyset; else undefined.
 */
export function keysetOrder(def: ContainerDef, q: Query): Query['orderBy'] | undefined {
  const order = q.orderBy ?? [];
  if (order.length === 0) return undefined;
  const withId = order.some((o) => o.field === 'id')
    ? order
    : [...order, { field: 'id', direction: order[order.length - 1]!.direction }];
  const aligned = alignOrderBy(def, equalityFields(def, q), withId);
  const served = (def.indexingPolicy.compositeIndexes ?? []).some(
    (ix) =>
      ix.length === aligned.length &&
      [false, true].some((rev) =>
        ix.every((c, i) => {
          const dir = (c.order === 'descending') !== rev ? 'DESC' : 'ASC';
          return fieldOfPath(c.path) === aligned[i]?.field && dir === aligned[i]?.direction;
        }),
      ),
  );
  return served ? withId : undefined;
}

/** The number of items of one partition (scoped by its key in the query too, as buildSql does). */
export function countSql(def: ContainerDef, partitionKey: string): SqlQuerySpec {
  return {
    query: `SELECT VALUE COUNT(1) FROM c WHERE ${prop(fieldOfPath(def.partitionKey))} = @pk`,
    parameters: [{ name: '@pk', value: partitionKey }],
  };
}

export function buildSql(
  def: ContainerDef,
  q: Query,
  after?: (string | number | boolean | null)[],
): SqlQuerySpec {
  const parameters: { name: string; value: string | number | boolean | null }[] = [];
  const param = (v: string | number | boolean | null): string => {
    const name = `@p${parameters.length}`;
    parameters.push({ name, value: v });
    return name;
  };
  const where: string[] = [];
  const equality = new Set<string>();
  const pkField = fieldOfPath(def.partitionKey);
  if (q.partitionKey !== undefined) {
    where.push(`${prop(pkField)} = ${param(q.partitionKey)}`);
    equality.add(pkField);
  }
  for (const f of q.filters ?? []) {
    where.push(`${prop(f.field)} ${f.op} ${param(f.value)}`);
    if (f.op === '=') equality.add(f.field);
  }
  if (q.before) {
    const f = prop(q.before.field);
    const v = param(q.before.value);
    where.push(`(${f} < ${v} OR (${f} = ${v} AND c.id < ${param(q.before.id)}))`);
  }
  if (after) where.push(keysetAfter(q.orderBy ?? [], after, param));
  const order = alignOrderBy(def, equality, q.orderBy ?? []);
  let sql = 'SELECT * FROM c';
  if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
  if (order.length)
    sql += ` ORDER BY ${order.map((o) => `${prop(o.field)} ${o.direction}`).join(', ')}`;
  return { query: sql, parameters };
}
