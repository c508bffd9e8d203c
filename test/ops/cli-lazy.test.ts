import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/ops/commands.ts';
import { BIN, ROOT } from './processes.ts';

/** Modules a command that needs no store must not load (each costs start-up time). */
const HEAVY = ['@electric-sql/pglite', '/node_modules/pg/', '/zod/', '/fastify/', '@azure/cosmos'];

describe('the CLI loads commands lazily', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'asora-lazy-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the compiled CLI, returning every module URL it resolved. */
  async function loaded(args: string[]): Promise<{ stdout: string; modules: string[] }> {
    const log = path.join(dir, `${args.join('_')}.log`);
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', path.join(ROOT, 'test/support/import-log.mjs'), BIN, ...args],
        { env: { PATH: process.env.PATH ?? '', IMPORT_LOG: log, DATA_DIR: dir } },
        (err, out) => (err ? reject(err) : resolve(out)),
      ),
    );
    return { stdout, modules: (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
  }

  it('`asora --help` loads commander and the command table, nothing else', async () => {
    const { stdout, modules } = await loaded(['--help']);
    for (const names of COMMANDS.map((c) => Object.keys(c.names)))
      for (const n of names) expect(stdout).toContain(n);
    const ours = modules.filter((m) => m.includes('/dist/')).map((m) => m.split('/dist/')[1]);
    expect(new Set(ours)).toEqual(new Set(['cli.js', 'errors.js', 'ops/commands.js']));
    for (const h of HEAVY)
      expect(
        modules.filter((m) => m.includes(h)),
        h,
      ).toEqual([]);
  }, 60_000);

  it('`asora outbox --help` loads the outbox commands but no database driver', async () => {
    const { stdout, modules } = await loaded(['outbox', '--help']);
    expect(stdout).toContain('redrive');
    expect(modules.some((m) => m.endsWith('/dist/ops/outbox.js'))).toBe(true);
    expect(modules.some((m) => m.endsWith('/dist/ops/seed.js'))).toBe(false);
    for (const h of ['@electric-sql/pglite', '/node_modules/pg/', '/fastify/'])
      expect(
        modules.filter((m) => m.includes(h)),
        h,
      ).toEqual([]);
  }, 60_000);

  it("the table's one-line help is each command module's own", async () => {
    for (const entry of COMMANDS) {
      const program = new Command('asora');
      (await entry.load())(program);
      for (const [name, description] of Object.entries(entry.names)) {
        const cmd = program.commands.find((c) => c.name() === name);
        expect(cmd?.description(), name).toBe(description);
      }
    }
  }, 60_000);
});
