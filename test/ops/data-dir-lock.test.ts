import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectCanonical } from '../../src/canonical/connect.ts';
import { loadConfig } from '../../src/config/config.ts';
import { DataDirLockedError, LOCK_FILE, lockDataDir, lockHolder } from '../../src/datadir/lock.ts';

/** A live process that is not this one, to stand in for another server. */
function liveChild(): Promise<ChildProcess> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], {
      stdio: 'ignore',
    });
    child.once('spawn', () => resolve(child));
  });
}

function deadPid(): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    child.once('exit', () => resolve(child.pid!));
  });
}

describe('the data directory lock', () => {
  let dir: string;
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'asora-lock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  afterAll(() => {
    for (const c of children) c.kill('SIGKILL');
  });
  const lockFile = () => path.join(dir, LOCK_FILE);

  it('is taken with this PID, re-entrant in one process, and released by the last holder', async () => {
    const a = await lockDataDir(dir);
    const b = await lockDataDir(dir);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    await a();
    expect(existsSync(lockFile())).toBe(true);
    await b();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('held by a live process: refused at once, naming the PID and what to do', async () => {
    const child = await liveChild();
    children.push(child);
    const holder = { pid: child.pid!, command: 'asora start', startedAt: '2026-12-02T00:00:00Z' };
    await writeFile(lockFile(), JSON.stringify(holder));
    const err = await lockDataDir(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`in use by PID ${child.pid} (asora start`);
    expect((err as Error).message).toContain(`kill -TERM ${child.pid}`);
    expect(await lockHolder(dir)).toMatchObject({ pid: child.pid });
    // The stores are never opened: the canonical connect refuses before PGlite starts.
    const config = loadConfig({ DATA_DIR: dir });
    await expect(connectCanonical(config)).rejects.toBeInstanceOf(DataDirLockedError);
    expect(existsSync(path.join(dir, 'canonical'))).toBe(false);
    child.kill('SIGKILL');
  });

  it('left by a dead process (crash, SIGKILL): taken over', async () => {
    const pid = await deadPid();
    await writeFile(lockFile(), JSON.stringify({ pid, command: 'asora start', startedAt: 'x' }));
    expect(await lockHolder(dir)).toBeUndefined();
    const release = await lockDataDir(dir);
    expect(JSON.parse(await readFile(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    await release();
  });

  it('whose PID was recycled by an unrelated process (other start time): taken over', async () => {
    const child = await liveChild();
    children.push(child);
    await writeFile(
      lockFile(),
      JSON.stringify({ pid: child.pid, command: 'asora start', startedAt: 'x', procStart: '1' }),
    );
    const release = await lockDataDir(dir);
    await release();
    child.kill('SIGKILL');
  });

  it('unreadable (half-written) lock files count as stale', async () => {
    await writeFile(lockFile(), '{"pid":');
    const release = await lockDataDir(dir);
    await release();
  });
});
