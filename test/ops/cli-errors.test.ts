import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine } from '../../src/errors.ts';
import { databaseUrl, serverUrl } from '../support/databases.ts';
import { asora } from './processes.ts';

const listening = (host = '127.0.0.1'): Promise<Server> =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, host, () => resolve(s));
  });
const portOf = (s: Server) => (s.address() as { port: number }).port;
const STACK = /^\s+at /m;

describe('CLI failures outside the input: one line, exit 1, the stack only with LOG_LEVEL=debug', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'asora-cli-errors-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a refused connection names the code and address', async () => {
    const closed = await listening();
    const port = portOf(closed);
    await new Promise((r) => closed.close(r));
    const env = { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/x` };
    const r = await asora(['migrate'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    const debug = await asora(['migrate'], { ...env, LOG_LEVEL: 'debug' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(STACK);
  }, 60_000);

  it.runIf(serverUrl)(
    'a database that does not exist',
    async () => {
      const url = databaseUrl(serverUrl!, `asora_missing_${process.pid}`);
      const r = await asora(['migrate'], { DATABASE_URL: url });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: database "asora_missing_${process.pid}" does not exist\n`);
    },
    60_000,
  );

  it('a PGLITE_SETTINGS pair PostgreSQL refuses is a configuration error naming it', async () => {
    const cases: [string, string][] = [
      ['no_such_setting=1', 'no_such_setting=1'],
      ['work_mem=8MB,shared_buffers=banana', 'shared_buffers=banana'],
    ];
    for (const [settings, refused] of cases) {
      const r = await asora(['outbox', 'status'], { DATA_DIR: dataDir, PGLITE_SETTINGS: settings });
      expect(r.code, settings).toBe(1);
      expect(r.stderr, settings).toBe(
        `error: invalid configuration:\n  PGLITE_SETTINGS: PostgreSQL refuses ${refused} (an unknown setting or a bad value)\n`,
      );
    }
  }, 120_000);

  it('start on a port in use says so and exits 1', async () => {
    const taken = await listening();
    try {
      const port = portOf(taken);
      const r = await asora(['start'], { DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: `${port}` });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `error: cannot listen on 127.0.0.1:${port} (HOST, PORT): listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
      );
      expect(r.stderr).not.toMatch(STACK);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  }, 170_000);

  it('errorLine: the parts of an AggregateError, and a cause that adds something', () => {
    const refused = (a: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${a}`), { code: 'ECONNREFUSED' });
    expect(errorLine(new AggregateError([refused('::1:1'), refused('127.0.0.1:1')]))).toBe(
      'connect ECONNREFUSED ::1:1; connect ECONNREFUSED 127.0.0.1:1',
    );
    expect(errorLine(new Error('upload failed', { cause: refused('10.0.0.1:443') }))).toBe(
      'upload failed: connect ECONNREFUSED 10.0.0.1:443',
    );
    expect(errorLine(new Error('x: boom', { cause: new Error('boom') }))).toBe('x: boom');
  });
});
