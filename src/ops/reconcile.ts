import type { Command } from 'commander';
import { withRunbookContext } from '../composition.ts';
import { loadConfig } from '../config/config.ts';
import { ValidationError } from '../errors.ts';
import type { PipelineContext } from '../pipeline/context.ts';
import { liveServer, throughNote } from './live-server.ts';
import { consoleOutput, formatTable, type Output } from './output.ts';
import { type Progress, progress } from './progress.ts';
import {
  PROJECTION_KINDS,
  type ProjectionKind,
  type ReconcileReport,
  reconcile,
  totalDrift,
} from './reconcile/index.ts';

export interface ReconcileCliOptions {
  repair?: boolean;
  json?: boolean;
  kinds?: ProjectionKind[];
  sample?: number;
}

/** Runs reconcile and prints the report; resolves to the report (drift before repair). */
export async function runReconcile(
  ctx: PipelineContext,
  opts: ReconcileCliOptions,
  out: Output,
): Promise<ReconcileReport> {
  const bars = new Map<ProjectionKind, Progress>();
  let report: ReconcileReport;
  try {
    report = await reconcile(ctx, {
      repair: opts.repair === true,
      kinds: opts.kinds,
      feedSample: opts.sample,
      onProgress: (kind, done, total) => {
        let bar = bars.get(kind);
        if (!bar) {
          bar = progress(out, kind.padEnd(8), total);
          bars.set(kind, bar);
        }
        bar.update(done, Math.max(total, done));
      },
    });
  } finally {
    for (const b of bars.values()) b.stop();
  }
  printReconcile(report, opts, out);
  return report;
}

/** The report as a table and drift lines (or JSON), with what to do next. */
export function printReconcile(
  report: ReconcileReport,
  opts: ReconcileCliOptions,
  out: Output,
): void {
  if (opts.json) {
    out.log(
      JSON.stringify(
        { repaired: opts.repair === true, totalDrift: totalDrift(report), ...report },
        null,
        2,
      ),
    );
    return;
  }
  const kinds = opts.kinds ?? PROJECTION_KINDS;
  out.log(
    formatTable(
      ['projection', 'checked', 'drift', opts.repair ? 'repaired' : ''],
      kinds.map((k) => [
        k,
        report[k].checked,
        report[k].drift.length,
        opts.repair ? report[k].repaired : '',
      ]),
    ),
  );
  const all = kinds.flatMap((k) => report[k].drift);
  if (all.length > 0) {
    out.log('');
    for (const d of all.slice(0, 50))
      out.log(`${d.kind}\t${d.id}\t${d.problem}${d.detail ? `\t${JSON.stringify(d.detail)}` : ''}`);
    if (all.length > 50) out.log(`… and ${all.length - 50} more (use --json for all)`);
  }
  out.log('');
  out.log(
    all.length === 0
      ? 'no drift: projections match canonical data'
      : opts.repair
        ? `repaired drift in ${kinds.reduce((n, k) => n + report[k].repaired, 0)} of ${all.length} place(s); run again to confirm`
        : `${all.length} drifted document(s)/feed(s); run with --repair to fix`,
  );
}

export function parseKinds(value: string | undefined): ProjectionKind[] | undefined {
  if (!value) return undefined;
  const kinds = value.split(',').map((k) => k.trim());
  const bad = kinds.filter((k) => !PROJECTION_KINDS.includes(k as ProjectionKind));
  if (bad.length > 0) {
    throw new ValidationError(
      `unknown projection '${bad.join(', ')}': expected ${PROJECTION_KINDS.join(', ')}`,
    );
  }
  return kinds as ProjectionKind[];
}

export function parseSample(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new ValidationError(`--sample must be a positive integer, got '${value}'`);
  return Number(value);
}

export function registerReconcile(program: Command, out: Output = consoleOutput): void {
  program
    .command('reconcile')
    .description(
      'compare projections (posts_v2, userFeed, counters, publicProfiles) with canonical data; --repair fixes drift',
    )
    .option('--repair', 'write drifted documents back to canonical truth (idempotent)')
    .option('--json', 'print the full report as JSON')
    .option('--only <kinds>', `comma-separated subset of ${PROJECTION_KINDS.join(',')}`)
    .option('--sample <n>', 'check the feeds of n random users instead of every user')
    .addHelpText(
      'after',
      '\nExit status: 0 when no drift was found (or all of it was repaired), 2 when drift remains.\n\nExamples:\n  asora reconcile\n  asora reconcile --only feeds --sample 500\n  asora reconcile --repair --json',
    )
    .action(async (o: { repair?: boolean; json?: boolean; only?: string; sample?: string }) => {
      const opts: ReconcileCliOptions = {
        repair: o.repair,
        json: o.json,
        kinds: parseKinds(o.only),
        sample: parseSample(o.sample),
      };
      const exitFor = (report: ReconcileReport) => {
        const kinds = opts.kinds ?? PROJECTION_KINDS;
        const unrepaired = kinds.reduce(
          (n, k) => n + report[k].drift.length - (opts.repair ? report[k].repaired : 0),
          0,
        );
        if (unrepaired > 0) process.exitCode = 2;
      };
      const server = await liveServer(loadConfig(), 'both');
      if (server) {
        out.error(throughNote(server));
        const { report } = await server.call<{ report: ReconcileReport }>(
          'POST',
          '/ops/api/reconcile',
          { repair: opts.repair === true, kinds: opts.kinds, sample: opts.sample },
        );
        printReconcile(report, opts, out);
        exitFor(report);
        return;
      }
      await withRunbookContext(async (ctx) => exitFor(await runReconcile(ctx, opts, out)));
    });
}
