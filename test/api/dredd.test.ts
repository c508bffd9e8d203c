import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { type ApiHarness, grantRole, register, startApi } from './harness.ts';

const DREDD = fileURLToPath(new URL('../../node_modules/dredd/bin/dredd', import.meta.url));
const HOOKS = fileURLToPath(new URL('./dredd/hooks.cjs', import.meta.url));

/**
 * Dredd against the live server and its own document: every documented 2xx response of
 * every operation is requested (bodies and parameters from the document's examples, ids
 * made real by the hooks) and the reply checked against the document.
 */
describe(`Dredd over the OpenAPI document (${engineName})`, () => {
  let h: ApiHarness;
  let adminToken: string;
  let docFile: string;

  beforeAll(async () => {
    h = await startApi({ ops: true });
    const admin = await register(h, 'dredd-admin');
    await grantRole(h, admin.id, 'admin');
    adminToken = admin.token;
    docFile = join(tmpdir(), `asora-openapi-${process.pid}-${Date.now()}.json`);
    await writeFile(docFile, JSON.stringify(h.app.swagger()));
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  }, 120_000);

  it('passes every transaction, with none failing or skipped among the 2xx', async () => {
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [DREDD, docFile, h.base, '--hookfiles', HOOKS, '--language', 'nodejs', '--color', 'false'],
        { env: { ...process.env, DREDD_API: h.base, DREDD_ADMIN_TOKEN: adminToken } },
      );
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('close', (code) => resolve({ code, text }));
    });
    const summary = out.text.match(
      /complete: (\d+) passing, (\d+) failing, (\d+) errors, (\d+) skipped/,
    );
    const failures = out.text.split('\n').filter((l) => /^(fail|error):/.test(l));
    expect(failures, out.text.slice(-4000)).toEqual([]);
    expect(summary, out.text.slice(-4000)).not.toBeNull();
    const [, passing, failing, errors] = summary!.map(Number);
    expect({ failing, errors, code: out.code }).toEqual({ failing: 0, errors: 0, code: 0 });
    expect(passing).toBeGreaterThanOrEqual(37);
  }, 300_000);
});
