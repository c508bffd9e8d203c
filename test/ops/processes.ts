import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { LOCK_FILE, type LockHolder } from '../../src/datadir/lock.ts';
import { canonicalDb, type ScratchDb, scratchDb } from '../support/databases.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin/asora.mjs');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs `asora <args>` (the compiled build) to completion. */
export function asora(args: string[], env: Record<string, string>): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'error', ...env }, timeout: 170_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

/** Starts a long-running process (asora start, npm start) with its output kept. */
export function startProcess(cmd: string, args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(cmd, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output };
}

/** Waits until the server holding dataDir advertises its URL in the lock file. */
export async function waitForServer(
  dataDir: string,
  exited: Promise<unknown>,
  timeoutMs = 150_000,
): Promise<LockHolder & { url: string }> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error('the server exited while starting');
    try {
      const h = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')) as LockHolder;
      if (h.url) return h as LockHolder & { url: string };
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server did not start in time');
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * The environment for CLI runs, set up before the file's tests and removed after: a data
 * directory of its own and, on a real server, canonical and projections in scratch
 * databases of their own. Call at the top of a describe; read the env inside tests.
 */
export function useCliEnv(prefix: string): () => Record<string, string> {
  let env: Record<string, string> = {};
  let dataDir: string | undefined;
  let canon: ScratchDb | undefined;
  let projDb: ScratchDb | undefined;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), prefix));
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
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });
  return () => env;
}
