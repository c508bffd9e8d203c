import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerArchive } from '../../src/ops/archive.ts';
import { asora, useCliEnv } from '../ops/processes.ts';
import { engineName } from '../support/databases.ts';

describe(`asora archive CLI (${engineName})`, () => {
  const cliEnv = useCliEnv('asora-archive-cli-');

  it('refuses bad ages, batch sizes and post ids before opening a store', async () => {
    for (const [args, message] of [
      [['archive', 'posts', '--older-than', '3x'], /invalid age "3x"/],
      [['archive', 'audit', '--older-than', '0d'], /must be at least 1/],
      [['archive', 'posts', '--older-than', '365d', '--batch', '0'], /--batch must be an integer/],
      [['archive', 'restore', 'nope'], /postId must be a UUID/],
    ] as [string[], RegExp][]) {
      const program = new Command().exitOverride();
      const lines: string[] = [];
      registerArchive(program, {
        log: (l) => lines.push(l),
        error: (l) => lines.push(l),
        interactive: false,
      });
      await expect(program.parseAsync(['node', 'asora', ...args])).rejects.toThrow(message);
      expect(lines).toEqual([]);
    }
  });

  it('exits 1 naming a missing required option', { timeout: 120_000 }, async () => {
    const r = await asora(['archive', 'posts'], cliEnv());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/required option '--older-than <age>'/);
  });
});
