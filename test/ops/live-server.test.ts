import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/datadir/lock.ts';
import { asora, isRunning, startProcess, waitForServer } from './processes.ts';

/**
 * Runbook commands beside a live embedded server: the ones that make sense run through its
 * admin API (the change lands in the server's stores), the rest are refused at once with
 * the holder's PID, and the server stays healthy. Embedded only: a server deployment
 * (DATABASE_URL) has no data directory to share.
 */
describe.skipIf(Boolean(process.env.TEST_DATABASE_URL))(
  'runbooks beside a live embedded server',
  () => {
    let dataDir: string;
    let env: Record<string, string>;
    let server: ReturnType<typeof startProcess>;
    let url: string;
    let pid: number;

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), 'asora-live-'));
      env = { DATA_DIR: dataDir };
      server = startProcess(process.execPath, ['bin/asora.mjs', 'start'], {
        ...env,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      });
      const holder = await waitForServer(dataDir, server.exited);
      url = holder.url;
      pid = holder.pid;
    }, 180_000);

    afterAll(async () => {
      if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    });

    const post = async (p: string, body: unknown, token?: string) => {
      const res = await fetch(`${url}${p}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('serves outbox status, redrive, reconcile, feed rebuild and grant-role through the server', async () => {
      const reg = await post('/v1/auth/register', {
        email: 'ops-live@example.com',
        password: 'correct horse battery',
        displayName: 'Ops Live',
      });
      expect(reg.status).toBe(201);
      const token = reg.body.accessToken as string;
      const userId = (reg.body.user as { id: string }).id;
      const note = new RegExp(`in use by PID ${pid}; ran this through its API`);

      const status = await asora(['outbox', 'status', '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).toMatch(note);
      expect(JSON.parse(status.stdout)).toMatchObject({ deadLettered: 0 });

      const redrive = await asora(['outbox', 'redrive', '--dead-lettered'], env);
      expect(redrive.code, redrive.stderr).toBe(0);
      expect(redrive.stdout).toMatch(/redrove 0 event\(s\) \(dead-lettered\)/);

      const reconcile = await asora(['reconcile', '--json', '--only', 'profiles,posts'], env);
      expect(reconcile.stderr).toMatch(note);
      expect([0, 2]).toContain(reconcile.code);
      expect(JSON.parse(reconcile.stdout)).toHaveProperty('profiles.checked');

      const one = await asora(['feed', 'rebuild', userId], env);
      expect(one.code, one.stderr).toBe(0);
      expect(one.stdout).toContain(`${userId}: `);
      const all = await asora(['feed', 'rebuild', '--all'], env);
      expect(all.code, all.stderr).toBe(0);
      expect(all.stdout).toMatch(/rebuilt 1 of 1 feed\(s\)/);

      const grant = await asora(['users', 'grant-role', 'OPS-LIVE@example.com', 'admin'], env);
      expect(grant.code, grant.stderr).toBe(0);
      expect(grant.stdout).toContain('role user → admin');
      // The change is in the server's stores, not lost: the server itself now says admin.
      const me = await fetch(`${url}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect(((await me.json()) as { user: { role: string } }).user.role).toBe('admin');

      // Bad input is still refused before anything is sent.
      const bad = await asora(['users', 'grant-role', 'ops-live@example.com', 'root'], env);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/unknown role 'root'/);
      const unknown = await asora(['users', 'grant-role', 'nobody@example.com', 'admin'], env);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toMatch(/error: no user with email nobody@example.com/);
    }, 240_000);

    it('refuses commands that would open the stores, and a second server, at once with the PID', async () => {
      const refused = [
        ['seed', '--users', '5'],
        ['migrate'],
        ['schema', 'verify'],
        ['cosmos', 'provision'],
        ['start'],
        ['work'],
      ];
      for (const args of refused) {
        const r = await asora(args, { ...env, PORT: '0', HOST: '127.0.0.1' });
        expect(r.code, args.join(' ')).not.toBe(0);
        expect(r.stderr, args.join(' ')).toMatch(
          new RegExp(`error: the data directory .* is in use by PID ${pid} \\(asora start`),
        );
        expect(r.stderr).toContain(`kill -TERM ${pid}`);
        expect(r.stderr).not.toMatch(/RuntimeError|Aborted/);
        // Refused before any store is opened: no PGlite start, no migration.
        expect(r.ms, args.join(' ')).toBeLessThan(15_000);
      }
    }, 120_000);

    it('the server is healthy afterwards, stops on SIGTERM, and the directory opens again', async () => {
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(200);
      server.child.kill('SIGTERM');
      const { code } = await server.exited;
      expect(code).toBe(0);
      expect(isRunning(pid)).toBe(false);
      expect(existsSync(path.join(dataDir, LOCK_FILE))).toBe(false);
      const status = await asora(['outbox', 'status', '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stderr).not.toMatch(/ran this through/);
    }, 120_000);
  },
);
