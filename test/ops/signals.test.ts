import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/datadir/lock.ts';
import { asora, isRunning, startProcess, waitForServer } from './processes.ts';

/**
 * Process managers signal the process they started: `npm start` (npm → node, no shell in
 * between) must stop gracefully on SIGTERM or SIGINT to npm, leave no process behind, and
 * leave the data directory in a state the next start opens.
 */
describe.skipIf(Boolean(process.env.TEST_DATABASE_URL))('signals through npm start', () => {
  const dirs: string[] = [];
  const stray: number[] = [];
  afterAll(async () => {
    for (const pid of stray) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  for (const [signal, script] of [
    ['SIGTERM', 'start'],
    ['SIGINT', 'serve'],
  ] as const) {
    it(`${signal} to \`npm run ${script}\` stops the server: no process left, directory reopenable`, async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'asora-signal-'));
      dirs.push(dataDir);
      const env = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' };
      const npm = startProcess('npm', ['run', '--silent', script], env);
      const holder = await waitForServer(dataDir, npm.exited);
      stray.push(holder.pid);
      // npm's own child is node itself (exec), not a shell that would orphan it.
      expect(holder.pid).not.toBe(npm.child.pid);
      expect(await fetch(`${holder.url}/health/live`).then((r) => r.status)).toBe(200);

      npm.child.kill(signal);
      await npm.exited;
      const deadline = Date.now() + 30_000;
      while (isRunning(holder.pid) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(isRunning(holder.pid), npm.output()).toBe(false);
      expect(npm.output()).toMatch(/"msg":"stopped"/);
      expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);

      const reopened = await asora(['outbox', 'status', '--json'], { DATA_DIR: dataDir });
      expect(reopened.code, reopened.stderr).toBe(0);
      expect(JSON.parse(reopened.stdout)).toMatchObject({ pending: expect.any(Number) });
    }, 240_000);
  }
});
