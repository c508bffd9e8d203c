import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { table, writeSection } from './lib/results.ts';
import { fmt, percentile } from './lib/stats.ts';

/**
 * Wall time of CLI commands on the compiled build (dist/), against the floor of starting
 * Node itself (`node -e 0`) measured in the same run: `asora --help`, and `asora outbox
 * status` on an idle embedded data directory (PGlite start + query + close).
 */
const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);
const bin = path.resolve('bin/asora.mjs');
const dataDir = mkdtempSync(path.join(tmpdir(), 'asora-bench-cli-'));
const env = { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'error' };

function time(args: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, args, { env, stdio: 'ignore' });
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}

try {
  // The data directory's first open creates and migrates both databases: not what is timed.
  execFileSync(process.execPath, [bin, 'migrate'], { env, stdio: 'ignore' });
  const cases: [string, string[]][] = [
    ['node -e 0 (floor)', ['-e', '0']],
    ['asora --help', [bin, '--help']],
    ['asora outbox status (idle embedded dir)', [bin, 'outbox', 'status']],
  ];
  const results = cases.map(([name, args]) => [name, time(args)] as const);
  const floor = percentile(results[0]![1], 50);
  const rows = results.map(([name, s]) => [
    name,
    fmt(percentile(s, 50), 3),
    fmt(Math.max(...s), 3),
    fmt(percentile(s, 50) - floor, 3),
  ]);
  const body = `${runs} runs of each, sequential, wall time of the whole process (spawn to exit).

${table(['command', 'p50 s', 'max s', 'p50 minus floor s'], rows)}
`;
  console.log(body);
  writeSection('cli-startup', 'CLI start-up (compiled build)', body);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
