import { isUuid } from '../../ids.ts';
import { forEachLimited } from '../../lib/concurrency.ts';
import { pages } from '../../lib/paging.ts';
import { canonicalCount, recomputeCounter } from '../../readmodel/counters.ts';
import {
  CONTAINERS,
  type CounterDoc,
  type CounterMetric,
  REACTION_METRIC,
} from '../../readmodel/documents.ts';
import type { KindReport, ReconcileContext, ReconcileOptions } from './types.ts';

const METRICS = new Set<string>([
  ...Object.values(REACTION_METRIC),
  'followers',
  'following',
  'posts',
]);

/**
 * Every stored counter against its canonical count (`canonicalCount`). A missing counter
 * is not drift: counters expire after 90 days and are recomputed on read. Repair is
 * `recomputeCounter`, which is replay-safe (it stores the canonical count).
 */
export async function reconcileCounters(
  ctx: ReconcileContext,
  opts: ReconcileOptions,
): Promise<KindReport> {
  const counters = ctx.store.container(CONTAINERS.counters);
  const report: KindReport = { checked: 0, drift: [], repaired: 0 };
  // The total is unknown until the last page: progress shows one more while pages remain.
  let more = false;
  const docPages = pages(async (continuation) => {
    const page = await counters.query<CounterDoc>({ limit: 200, continuation });
    more = page.continuation !== null;
    return page;
  });
  for await (const docs of docPages) {
    await forEachLimited(docs, 8, async (doc) => {
      if (!isUuid(doc.subjectId) || !METRICS.has(doc.metric)) {
        report.drift.push({
          kind: 'counters',
          id: doc.id,
          problem: 'stray',
          detail: { subjectId: doc.subjectId, metric: doc.metric },
        });
        return;
      }
      const want = await canonicalCount(ctx.readDb, doc.subjectId, doc.metric as CounterMetric);
      if (Number(doc.value) !== want) {
        report.drift.push({
          kind: 'counters',
          id: doc.id,
          problem: 'wrong_value',
          detail: { have: doc.value, want },
        });
      }
    });
    report.checked += docs.length;
    opts.onProgress?.('counters', report.checked, report.checked + (more ? 1 : 0));
  }

  if (opts.repair) {
    await forEachLimited(report.drift, 8, async (d) => {
      const [subjectId, metric] = d.id.split(':');
      if (d.problem === 'stray') {
        const r = await counters.delete(d.id, String(d.detail?.subjectId ?? subjectId));
        if (r.deleted) report.repaired++;
        return;
      }
      await recomputeCounter(ctx.db, counters, subjectId!, metric as CounterMetric);
      report.repaired++;
    });
  }
  return report;
}
