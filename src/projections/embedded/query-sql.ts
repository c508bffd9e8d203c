import { createHash } from 'node:crypto';
import type { ContainerDef, Filter, Query } from '../port.ts';
import { ProjectionError } from '../port.ts';
import { checkField } from '../validate.ts';
import { fieldExpr, lit, q, tableName } from './schema.ts';

/**
 * Builds the SQL for a query: equality/range filters, ORDER BY on the same expressions the
 * composite indexes are built on, id (and pk across partitions) as tie-breakers so the
 * order is total, and keyset continuation (the sort values of the last row), which stays
 * correct across pages even when rows are added or removed between them.
 */

export const LIVE = '(expires_at IS NULL OR expires_at > statement_timestamp())';

function jsonExpr(segs: string[]): string {
  if (segs.length === 1) return `(body -> ${lit(segs[0] as string)})`;
  return `(body #> ${lit(`{${segs.map((s) => `"${s}"`).join(',')}}`)})`;
}

interface Term {
  expr: string;
  dir: 'ASC' | 'DESC';
}

interface Token {
  h: string;
  k: (string | null)[];
}

export interface BuiltQuery {
  sql: string;
  params: unknown[];
  /** Number of sort-key columns (k0..kn) selected for the continuation. */
  keys: number;
  shape: string;
}

export function buildQuery(def: ContainerDef, query: Query): BuiltQuery {
  const params: unknown[] = [];
  const p = (v: unknown): string => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [LIVE];
  if (query.partitionKey !== undefined) where.push(`pk = ${p(query.partitionKey)}`);
  for (const f of query.filters ?? []) where.push(filterSql(def, f, p));
  if (query.before) {
    const e = fieldExpr(def, checkField(query.before.field));
    const v = p(query.before.value);
    // The leading `<=` is what the index can seek with; the OR settles the tie on id.
    where.push(`${e} <= ${v} AND (${e} < ${v} OR id < ${p(query.before.id)})`);
  }

  const terms: Term[] = (query.orderBy ?? []).map((o) => ({
    expr: fieldExpr(def, checkField(o.field)),
    dir: o.direction,
  }));
  const tieDir = terms[terms.length - 1]?.dir ?? 'ASC';
  if (query.partitionKey === undefined && !terms.some((t) => t.expr === 'pk'))
    terms.push({ expr: 'pk', dir: tieDir });
  if (!terms.some((t) => t.expr === 'id')) terms.push({ expr: 'id', dir: tieDir });

  const shape = createHash('sha1')
    .update(
      JSON.stringify([
        def.name,
        query.partitionKey ?? null,
        query.filters ?? [],
        query.orderBy ?? [],
        query.before ?? null,
      ]),
    )
    .digest('base64url')
    .slice(0, 12);
  if (query.continuation) {
    const token = decodeToken(query.continuation, shape, terms.length);
    where.push(keysetAfter(terms, token.k, p, query.partitionKey !== undefined));
  }
  const cols = terms.map((t, i) => `${t.expr} AS k${i}`).join(', ');
  const order = terms.map((t) => `${t.expr} ${t.dir}`).join(', ');
  const sql = `SELECT body, etag, ts, ${cols} FROM ${q(tableName(def))} WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ${p(query.limit + 1)}`;
  return { sql, params, keys: terms.length, shape };
}

function filterSql(def: ContainerDef, f: Filter, p: (v: unknown) => string): string {
  const segs = checkField(f.field);
  const expr = fieldExpr(def, segs);
  const op = f.op === '!=' ? '<>' : f.op;
  if (expr === 'pk' || expr === 'id') {
    if (typeof f.value === 'string') return `${expr} ${op} ${p(f.value)}`;
    return 'FALSE'; // pk and id are always strings: no other value compares to them
  }
  const j = jsonExpr(segs);
  if (f.value === null) return `jsonb_typeof(${j}) ${f.op === '=' ? '=' : '<>'} 'null'`;
  // Strings and booleans compare on the text form, exactly the expression the composite
  // indexes are built on (a type guard here would hide the index's statistics from the
  // planner). The price: the string '5' also matches the number 5, unlike Cosmos.
  if (typeof f.value === 'string' || typeof f.value === 'boolean')
    return `${expr} ${op} ${p(String(f.value))}`;
  return `(CASE WHEN jsonb_typeof(${j}) = 'number' THEN ${j}::numeric END) ${op} ${p(f.value)}::numeric`;
}

/** Rows strictly after the key tuple in ORDER BY order (ASC sorts NULLs last, DESC first). */
function keysetAfter(
  terms: Term[],
  keys: (string | null)[],
  p: (v: unknown) => string,
  scoped: boolean,
): string {
  const eq = (t: Term, v: string | null) =>
    v === null ? `${t.expr} IS NULL` : `${t.expr} = ${p(v)}`;
  const after = (t: Term, v: string | null) => {
    if (t.dir === 'ASC') return v === null ? 'FALSE' : `(${t.expr} > ${p(v)} OR ${t.expr} IS NULL)`;
    return v === null ? `${t.expr} IS NOT NULL` : `${t.expr} < ${p(v)}`;
  };
  const ors: string[] = [];
  for (let i = 0; i < terms.length; i++) {
    const parts = terms.slice(0, i).map((t, j) => eq(t, keys[j] ?? null));
    parts.push(after(terms[i] as Term, keys[i] ?? null));
    ors.push(`(${parts.join(' AND ')})`);
  }
  const clause = `(${ors.join(' OR ')})`;
  // A bound on the leading DESC key the planner can seek with (the OR alone is only a
  // filter); in a partition-scoped query a leading pk term is constant, so look past it.
  const lead = terms.findIndex((t) => !(scoped && t.expr === 'pk'));
  const first = terms[lead];
  const k = keys[lead] ?? null;
  return first?.dir === 'DESC' && k !== null ? `${first.expr} <= ${p(k)} AND ${clause}` : clause;
}

export function encodeToken(shape: string, keys: (string | null)[]): string {
  return Buffer.from(JSON.stringify({ h: shape, k: keys } satisfies Token)).toString('base64url');
}

function decodeToken(token: string, shape: string, n: number): Token {
  let t: unknown;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch (err) {
    throw new ProjectionError('bad_request', 'malformed continuation token', err);
  }
  const ok =
    t !== null &&
    typeof t === 'object' &&
    (t as Token).h === shape &&
    Array.isArray((t as Token).k) &&
    (t as Token).k.length === n &&
    (t as Token).k.every((v) => v === null || typeof v === 'string');
  if (!ok)
    throw new ProjectionError('bad_request', 'continuation token does not belong to this query');
  return t as Token;
}
