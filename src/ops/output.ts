/** Where runbook commands write: the console in the CLI, a buffer in tests. */
export interface Output {
  log(line: string): void;
  error(line: string): void;
  /** Progress bars only on a terminal (and never in tests or pipes). */
  readonly interactive: boolean;
}

export const consoleOutput: Output = {
  log: (line) => console.log(line),
  error: (line) => console.error(line),
  interactive: Boolean(process.stderr.isTTY),
};

/** Left-aligned text table (first column) with right-aligned numbers. */
export function formatTable(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join(
    '\n',
  );
}
