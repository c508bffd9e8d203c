import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

const SECRET = 's'.repeat(32);

/** The error loadConfig throws for env, or fails the test when it does not throw. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('defaults to the embedded stores with no environment', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      logLevel: 'info',
      canonical: { url: undefined, readUrl: undefined, poolMax: 10 },
      projections: { kind: 'embedded', url: undefined, feedRanges: 4 },
      jwtSecret: undefined,
    });
    expect(path.isAbsolute(c.dataDir)).toBe(true);
    expect(c.dataDir).toBe(path.resolve('./data'));
  });

  it('reads a server deployment', () => {
    const c = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://app@db:5432/asora',
      DATABASE_READ_URL: 'postgresql://app@replica:5432/asora',
      JWT_SECRET: SECRET,
      DATABASE_POOL_MAX: '25',
      COSMOS_ENDPOINT: 'https://acct.documents.azure.com:443/',
      COSMOS_KEY: 'k',
    });
    expect(c.port).toBe(8080);
    expect(c.canonical).toEqual({
      url: 'postgres://app@db:5432/asora',
      readUrl: 'postgresql://app@replica:5432/asora',
      // The serving pools log in as the roles of migration 0010 (no password by default).
      apiUrl: 'postgres://asora_api_login@db:5432/asora',
      workerUrl: 'postgres://asora_worker_login@db:5432/asora',
      workerReadUrl: 'postgresql://asora_worker_login@replica:5432/asora',
      poolMax: 25,
    });
    expect(c.projections).toEqual({
      kind: 'cosmos',
      endpoint: 'https://acct.documents.azure.com:443/',
      key: 'k',
      database: 'asora',
      preferredRegions: [],
    });
  });

  it('takes explicit login URLs (with passwords) for the API and the workers', () => {
    const c = loadConfig({
      DATABASE_URL: 'postgres://owner:o@db/asora',
      DATABASE_READ_URL: 'postgres://owner:o@replica/asora',
      API_DATABASE_URL: 'postgres://api:secret-a@db/asora',
      WORKER_DATABASE_URL: 'postgres://worker:secret-w@db/asora',
      JWT_SECRET: SECRET,
    });
    expect(c.canonical.apiUrl).toBe('postgres://api:secret-a@db/asora');
    expect(c.canonical.workerUrl).toBe('postgres://worker:secret-w@db/asora');
    expect(c.canonical.workerReadUrl).toBe('postgres://worker:secret-w@replica/asora');
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' }).port).toBe(3000);
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '80.5' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/asora', JWT_SECRET: SECRET }],
    ['DATABASE_URL', { DATABASE_URL: 'not a url', JWT_SECRET: SECRET }],
    ['DATABASE_READ_URL', { DATABASE_READ_URL: 'http://replica' }],
    ['JWT_SECRET', { JWT_SECRET: 'too-short' }],
    ['COSMOS_KEY', { COSMOS_ENDPOINT: 'https://acct.documents.azure.com' }],
    ['COSMOS_ENDPOINT', { COSMOS_ENDPOINT: 'not-a-url', COSMOS_KEY: 'k' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DATABASE_POOL_MAX', { DATABASE_POOL_MAX: '0' }],
  ] as [string, NodeJS.ProcessEnv][])('names %s when it is invalid (%j)', (variable, env) => {
    const err = configError(env);
    expect(err.message).toMatch(new RegExp(`^invalid configuration:\\n  ${variable}: `, 'm'));
  });

  it('names JWT_SECRET when a server deployment serves the API without one', () => {
    expect(() =>
      loadConfig({ DATABASE_URL: 'postgres://db/asora' }, { issuesTokens: true }),
    ).toThrow(/^invalid configuration:\n {2}JWT_SECRET: required when DATABASE_URL is set/m);
  });

  it('runbooks and workers issue no token: no JWT_SECRET needed', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://db/asora' }).jwtSecret).toBeUndefined();
  });

  it('names every bad variable at once', () => {
    const err = configError({ PORT: 'x', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://db' });
    expect(err.message).toContain('PORT:');
    expect(err.message).toContain('LOG_LEVEL:');
    expect(err.message).toContain('DATABASE_URL:');
  });

  it('a bad variable stops the CLI at start with the variable named and exit 1', async () => {
    const bin = fileURLToPath(new URL('../../bin/asora.mjs', import.meta.url));
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [bin, 'serve'],
        {
          env: { PATH: process.env.PATH, DATABASE_URL: 'postgres://127.0.0.1:1/x' },
          timeout: 60_000,
        },
        (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }),
      );
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: invalid configuration:');
    expect(r.stderr).toContain('JWT_SECRET: required when DATABASE_URL is set');
  }, 60_000);
});
