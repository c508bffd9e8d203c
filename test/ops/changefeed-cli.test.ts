import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { asora, useCliEnv } from './processes.ts';

describe(`asora changefeed (${engineName})`, () => {
  const cliEnv = useCliEnv('asora-changefeed-cli-');

  it('bad input fails before any database is opened: the data directory is not created', async () => {
    const dataDir = path.join(tmpdir(), `asora-never-${process.pid}-${Date.now()}`);
    const cases: [string[], RegExp][] = [
      [['changefeed', 'backfill', 'bogus'], /error: unknown processor "bogus" \(one of fanout/],
      [
        ['changefeed', 'backfill', 'fanout', '--from', 'yesterday'],
        /error: --from must be an ISO 8601 time, got 'yesterday'/,
      ],
      [['changefeed', 'dead-letters', '--processor', 'bogus'], /error: unknown processor "bogus"/],
      [
        ['changefeed', 'redrive', '--processor', 'bogus', '--all'],
        /error: unknown processor "bogus"/,
      ],
      [['changefeed', 'split', 'bogus', '0-of-4'], /error: unknown container "bogus" \(one of /],
      [['changefeed', 'merge', 'bogus', 'a', 'b'], /error: unknown container "bogus"/],
    ];
    for (const [args, message] of cases) {
      const r = await asora(args, { ...cliEnv(), DATA_DIR: dataDir });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(existsSync(dataDir), args.join(' ')).toBe(false);
    }
  }, 120_000);

  it('a live split is kept by the runbooks that open the store after it', async () => {
    const ranges = async () => {
      const r = await asora(['changefeed', 'ranges'], cliEnv());
      expect(r.code, r.stderr).toBe(0);
      return /posts_v2: \d+ feed range\(s\): (.*)/.exec(r.stdout)?.[1];
    };
    expect(await ranges()).toBe('0-of-4, 1-of-4, 2-of-4, 3-of-4');
    const split = await asora(['changefeed', 'split', 'posts_v2', '0-of-4'], cliEnv());
    expect(split.stdout).toContain('posts_v2: 0-of-4 split into 0-of-8 and 1-of-8');
    // One opener through withStore, one through withRunbookContext.
    expect((await asora(['changefeed', 'dead-letters'], cliEnv())).code).toBe(0);
    expect((await asora(['reconcile'], cliEnv())).code).toBe(0);
    expect(await ranges()).toBe('0-of-8, 1-of-8, 1-of-4, 2-of-4, 3-of-4');
  }, 240_000);
});
