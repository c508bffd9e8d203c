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
  for (const ix of def.indexingPolicy.compositeIndexes ?? []) {
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

export function buildSql(def: ContainerDef, q: Query): SqlQuerySpec {
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
  const order = alignOrderBy(def, equality, q.orderBy ?? []);
  let sql = 'SELECT * FROM c';
  if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
  if (order.length)
    sql += ` ORDER BY ${order.map((o) => `${prop(o.field)} ${o.direction}`).join(', ')}`;
  return { query: sql, parameters };
}
