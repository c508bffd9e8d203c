import { asWorker } from '../../canonical/session.ts';
import { isUuid } from '../../ids.ts';
import type { Doc, ProjectionContainer, Stored } from '../../projections/port.ts';
import { SOFT_DELETE_TTL_SECONDS } from '../../readmodel/documents.ts';
import type {
  Drift,
  KindReport,
  ProjectionKind,
  ReconcileContext,
  ReconcileOptions,
} from './types.ts';

const PAGE = 500;
const FIRST_KEY = '00000000-0000-0000-0000-000000000000';

/** A projection whose documents are keyed (id = partition key) by one canonical row each. */
export interface KeyedProjection<R, D extends Doc> {
  kind: ProjectionKind;
  container: ProjectionContainer;
  /** `SELECT count(*)::int AS n ...` over the canonical rows (for progress). */
  countSql: string;
  /** Canonical rows with key > $1, ordered by key, LIMIT $2. */
  pageSql: string;
  keyOf: (row: R) => string;
  compare: (row: R, stored: Stored<D> | undefined) => Drift | undefined;
  /** `SELECT <key>::text AS id ... WHERE <key> = ANY($1::uuid[])`: which ids canonical knows. */
  knownSql: string;
  strayDetail?: (doc: Stored<D>) => Record<string, unknown>;
}

/**
 * Both directions of a keyed projection's check: every canonical row against its document
 * (keyset pages of canonical, one readMany each), then every live document without a
 * canonical row (a stray).
 */
export async function checkKeyedProjection<R, D extends Doc>(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
  p: KeyedProjection<R, D>,
): Promise<KindReport> {
  const report: KindReport = { checked: 0, drift: [], repaired: 0 };
  const total = await asWorker(
    ctx.readDb,
    async (tx) => (await tx.query<{ n: number }>(p.countSql)).rows[0]!.n,
  );
  let after = FIRST_KEY;
  for (;;) {
    const rows = await asWorker(
      ctx.readDb,
      async (tx) => (await tx.query<R & Record<string, unknown>>(p.pageSql, [after, PAGE])).rows,
    );
    if (rows.length === 0) break;
    after = p.keyOf(rows[rows.length - 1]!);
    const page = await p.container.readMany<D>(
      rows.map((r) => ({ id: p.keyOf(r), partitionKey: p.keyOf(r) })),
    );
    const stored = new Map(page.items.map((d) => [d.id, d]));
    for (const row of rows) {
      const d = p.compare(row, stored.get(p.keyOf(row)));
      if (d) report.drift.push(d);
    }
    report.checked += rows.length;
    opts.onProgress?.(p.kind, report.checked, total);
  }

  let continuation: string | null = null;
  do {
    const page: Awaited<ReturnType<typeof p.container.query<D>>> = await p.container.query<D>({
      limit: PAGE,
      continuation,
    });
    continuation = page.continuation;
    const live = page.items.filter((d) => d.deleted !== true);
    const ids = live.map((d) => d.id).filter(isUuid);
    const known = new Set(
      ids.length === 0
        ? []
        : await asWorker(ctx.readDb, async (tx) =>
            (await tx.query<{ id: string }>(p.knownSql, [ids])).rows.map((r) => r.id),
          ),
    );
    for (const d of live) {
      if (!known.has(d.id)) {
        report.drift.push({
          kind: p.kind,
          id: d.id,
          problem: 'stray',
          ...(p.strayDetail ? { detail: p.strayDetail(d) } : {}),
        });
      }
    }
  } while (continuation);
  return report;
}

/** The soft delete of a stored document (so the change feed sees it go), or undefined if already gone. */
export function softDeleted<D extends Doc>(current: Stored<D> | undefined): D | undefined {
  if (!current || current.deleted === true) return undefined;
  const { _etag, _ts, ...body } = current;
  return { ...body, deleted: true, ttl: SOFT_DELETE_TTL_SECONDS } as unknown as D;
}
