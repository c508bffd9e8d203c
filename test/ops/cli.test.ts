import { randomUUID } from 'node:crypto';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.ts';
import { registerFeed } from '../../src/ops/feed.ts';
import { registerOutbox } from '../../src/ops/outbox.ts';
import type { Output } from '../../src/ops/output.ts';
import { registerReconcile } from '../../src/ops/reconcile.ts';
import { registerSeed } from '../../src/ops/seed.ts';
import { engineName } from '../support/databases.ts';
import { asora, useCliEnv } from './processes.ts';

describe(`runbook CLI exit codes and messages (${engineName})`, () => {
  const cliEnv = useCliEnv('asora-cli-');

  it('bad input fails before any store is opened, with a clear message and exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['feed', 'rebuild', 'not-a-uuid'], /error: userId must be a UUID, got 'not-a-uuid'/],
      [['outbox', 'redrive', '--id', '12x'], /error: --id must be a positive integer, got '12x'/],
      [['reconcile', '--only', 'posts,bogus'], /error: unknown projection 'bogus'/],
      [
        ['seed', '--users', '-5'],
        /error: --users must be a whole number from 0 to 10000000, got '-5'/,
      ],
      [['seed', '--bogus'], /error: unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await asora(args, cliEnv());
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
    }
  }, 240_000);

  it('the same checks in-process, for every option', async () => {
    const cases: [string[], RegExp][] = [
      [['feed', 'rebuild'], /pass a userId or --all/],
      [['feed', 'rebuild', randomUUID(), '--all'], /pass either a userId or --all, not both/],
      [
        ['feed', 'rebuild', '--all', '--concurrency', '0'],
        /--concurrency must be an integer from 1 to 64/,
      ],
      [['outbox', 'redrive'], /nothing selected/],
      [['outbox', 'redrive', '--id', '0'], /--id must be a positive integer, got '0'/],
      [['reconcile', '--sample', '0'], /--sample must be a positive integer/],
      [['seed', '--users', '1e3'], /--users must be a whole number from 0 to 10000000, got '1e3'/],
      [['seed', '--follows-per-user', '2.5'], /--follows-per-user must be a whole number/],
      [['seed', '--posts-per-user', ''], /--posts-per-user must be a whole number/],
      [['seed', '--reactions', '10000001'], /--reactions must be a whole number/],
    ];
    for (const [args, message] of cases) {
      const program = new Command('asora').exitOverride();
      const out: Output = { log: () => {}, error: () => {}, interactive: false };
      registerOutbox(program, out);
      registerFeed(program, out);
      registerReconcile(program, out);
      registerSeed(program, out);
      const err = await program.parseAsync(['node', 'asora', ...args]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, args.join(' ')).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('--help describes each runbook', async () => {
    const r = await asora(['reconcile', '--help'], cliEnv());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--repair/);
    expect(r.stdout).toMatch(/Exit status/);
  }, 120_000);

  it('an unknown user id is a not-found error (exit 1), and status / reconcile work on empty stores', async () => {
    const unknown = randomUUID();
    const r = await asora(['feed', 'rebuild', unknown], cliEnv());
    expect(r.stderr).toContain(`error: user ${unknown} not found`);
    expect(r.code).toBe(1);

    const status = await asora(['outbox', 'status', '--json'], cliEnv());
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ pending: 0, failed: 0, deadLettered: 0 });

    const rec = await asora(['reconcile'], cliEnv());
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/no drift/);
  }, 180_000);
});
