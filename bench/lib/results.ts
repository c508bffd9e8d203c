import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineInfo } from './machine.ts';

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'RESULTS.md');
const HEADER = `# Benchmark results

Every figure below was measured by the command shown above it, on the machine described
with it; peers (canonical JOIN, graphile-worker) were measured in the same run. Each
section is rewritten when its benchmark runs again. How to read them: docs/operations.md.
`;

/**
 * Replaces (or appends) one benchmark's section in bench/RESULTS.md, delimited by
 * markers so each benchmark can be re-run on its own.
 */
/** The command this process was started with, as it would be typed (`npx tsx bench/x.ts --a 1`). */
const thisCommand = () =>
  ['npx tsx', path.relative(process.cwd(), process.argv[1] ?? ''), ...process.argv.slice(2)].join(
    ' ',
  );

/** Writes (or rewrites) one section, headed by the exact command that measured it. */
export function writeSection(key: string, title: string, body: string): void {
  const start = `<!-- bench:${key}:start -->`;
  const end = `<!-- bench:${key}:end -->`;
  const section = [
    start,
    `## ${title}`,
    '',
    `Command: \`${thisCommand()}\``,
    '',
    machineInfo(),
    '',
    body.trim(),
    end,
  ].join('\n');
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : HEADER;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  text =
    i >= 0 && j > i
      ? text.slice(0, i) + section + text.slice(j + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS, text);
  console.log(`\nwrote section "${title}" to ${path.relative(process.cwd(), RESULTS)}`);
}

/** A markdown table from rows of cells, padded the way the formatter (biome) lays tables out. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(3, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const pad = (c: string, w: number) => c + ' '.repeat(w - [...c].length);
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c, widths[i]!)).join(' | ')} |`;
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join(
    '\n',
  );
}
