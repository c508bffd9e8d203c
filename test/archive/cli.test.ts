import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerArchive } from '../../src/ops/archive.ts';
import { canonicalDb, engineName, type ScratchDb, scratchDb } from '../support/databases.ts';

const BIN = path.resolve('bin/asora.mjs');

function asora(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env }, timeout: 170_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

describe(`asora archive CLI (${engineName})`, () => {
  let env: Record<string, string>;
  let dataDir: string;
  let canon: ScratchDb | undefined;
  let projDb: ScratchDb | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'asora-archive-cli-'));
    env = { DATA_DIR: dataDir };
    if (process.env.TEST_DATABASE_URL) {
      canon = await canonicalDb();
      projDb = await scratchDb();
      env = {
        ...env,
        DATABASE_URL: canon.url!,
        PROJECTIONS_DATABASE_URL: projDb.url!,
        JWT_SECRET: 'x'.repeat(40),
      };
    }
  }, 120_000);
  afterAll(async () => {
    await canon?.close();
    await projDb?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

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
    const r = await asora(['archive', 'posts'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/required option '--older-than <age>'/);
  });
});
