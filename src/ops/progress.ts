import cliProgress from 'cli-progress';
import type { Output } from './output.ts';

export interface Progress {
  increment(by?: number): void;
  setTotal(total: number): void;
  /** Sets the position (and the total when it grew). */
  update(done: number, total?: number): void;
  stop(): void;
}

/** A cli-progress bar on stderr when interactive; silent otherwise (pipes, tests). */
export function progress(out: Output, label: string, total: number): Progress {
  if (!out.interactive) return { increment() {}, setTotal() {}, update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} {percentage}% eta {eta_formatted}`,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    increment: (by = 1) => bar.increment(by),
    setTotal: (t) => bar.setTotal(t),
    update: (done, total) => {
      if (total !== undefined && total !== bar.getTotal()) bar.setTotal(total);
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}
