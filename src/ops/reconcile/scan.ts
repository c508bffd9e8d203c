import { asWorker } from '../../canonical/session.ts';
import {
  countRows,
  FIRST_KEY,
  type KeyedScan,
  knownKeys,
  rowsAfter,
} from '../../canonical/tables/keyed-scan.ts';
import { isUuid } from '../../ids.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { keysetPages, pages } from '../../lib/paging.ts';
import type { Doc, ProjectionContainer, Stored } from '../../projections/port.ts';
import { SOFT_DELETE_TTL_SECONDS } from '../../readmodel/documents.ts';
import type { Queryable } from '../../sql/db.ts';
import type {
  Drift,
  KindReport,
  ProjectionKind,
  ReconcileContext,
  ReconcileOptions,
} from './types.ts';

const PAGE = 500;

/** A projection whose documents are keyed (id = partition key) by one canonical row each. */
export interface KeyedProjection<R, D extends Doc> {
  kind: ProjectionKind;
  container: ProjectionContainer;
  /** The canonical rows, scanned in key order (a table module's definition). */
  scan: KeyedScan<R>;
  compare: (row: R, stored: Stored<D> | undefined) => Drift | undefined;
  strayDetail?: (doc: Stored<D>) => Record<string, unknown>;
  /** Converges one drifting document on canonical (with --repair); true when it did. */
  repair: (drift: Drift) => Promise<boolean>;
}

/**
 * Both directions of a keyed projection's check: every canonical row against its document
 * (keyset pages of canonical, one readMany each), then every live document without a
 * canonical row (a stray); then, with --repair, each drift repaired.
 */
export async function checkKeyedProjection<R, D extends Doc>(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
  p: KeyedProjection<R, D>,
): Promise<KindReport> {
  const report: KindReport = { checked: 0, drift: [], repaired: 0 };
  const read = <T>(fn: (tx: Queryable) => Promise<T>) => asWorker(ctx.readDb, fn);
  const keyOf = p.scan.keyOf;
  const total = await read((tx) => countRows(tx, p.scan));
  const canonicalPages = keysetPages(
    (after: string) => read((tx) => rowsAfter(tx, p.scan, after, PAGE)),
    FIRST_KEY,
    keyOf,
  );
  for await (const rows of canonicalPages) {
    const page = await p.container.readMany<D>(
      rows.map((r) => ({ id: keyOf(r), partitionKey: keyOf(r) })),
    );
    const stored = new Map(page.items.map((d) => [d.id, d]));
    for (const row of rows) {
      const d = p.compare(row, stored.get(keyOf(row)));
      if (d) report.drift.push(d);
    }
    report.checked += rows.length;
    opts.onProgress?.(p.kind, report.checked, total);
  }

  const docPages = pages((continuation) => p.container.query<D>({ limit: PAGE, continuation }));
  for await (const docs of docPages) {
    const live = docs.filter((d) => d.deleted !== true);
    const ids = live.map((d) => d.id).filter(isUuid);
    const known =
      ids.length === 0 ? new Set<string>() : await read((tx) => knownKeys(tx, p.scan, ids));
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
  }
  if (opts.repair) {
    await forEachLimited(report.drift, 8, async (d) => {
      if (await p.repair(d)) report.repaired++;
    });
  }
  return report;
}

/** The soft delete of a stored document (so the change feed sees it go), or undefined if already gone. */
export function softDeleted<D extends Doc>(current: Stored<D> | undefined): D | undefined {
  if (!current || current.deleted === true) return undefined;
  const { _etag, _ts, ...body } = current;
  return { ...body, deleted: true, ttl: SOFT_DELETE_TTL_SECONDS } as unknown as D;
}
