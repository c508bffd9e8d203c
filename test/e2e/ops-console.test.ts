import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRole } from '../../src/canonical/user-roles.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createPlatform, type Platform } from '../../src/platform.ts';
import { canonicalDb, engineName, type ScratchDb, scratchDb } from '../support/databases.ts';

/** Debian's chromium (.ci/setup.d/20-chromium.sh), headless, nothing phoning home. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * The ops console end to end in a real browser against a real platform (API, relay and
 * change-feed processors in this process): an admin logs in, sees a planted dead-lettered
 * event with its error, redrives it and sees it processed; a non-admin is refused.
 * OPS_SCREENSHOT=docs/ops-console.png also saves the README's screenshot.
 */
describe(`ops console in Chromium (${engineName})`, () => {
  let dataDir: string;
  let platform: Platform;
  let url: string;
  let browser: Browser;
  const dbs: ScratchDb[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'asora-console-'));
    const env: Record<string, string> = { DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1' };
    if (process.env.TEST_DATABASE_URL) {
      const canon = await canonicalDb();
      const proj = await scratchDb();
      dbs.push(canon, proj);
      Object.assign(env, {
        DATABASE_URL: canon.url!,
        PROJECTIONS_DATABASE_URL: proj.url!,
        JWT_SECRET: 'c'.repeat(40),
      });
    }
    platform = await createPlatform(loadConfig(env), {
      api: true,
      workers: true,
      log: createLogger('warn'),
      opsSampleMs: 1_000,
      workerOptions: { relay: { pollIntervalMs: 100 } },
    });
    url = await platform.listen();
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await platform?.close();
    for (const d of dbs) await d.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function register(email: string): Promise<string> {
    return (await registerWithToken(email)).id;
  }

  async function registerWithToken(email: string): Promise<{ id: string; token: string }> {
    const res = await fetch(`${url}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email,
        password: 'correct horse battery',
        displayName: email.split('@')[0],
      }),
    });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { user: { id: string }; accessToken: string };
    return { id: body.user.id, token: body.accessToken };
  }

  async function logIn(page: Page, email: string): Promise<void> {
    await page.goto(`${url}/ops`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.click('#login button[type=submit]');
  }

  it('an admin sees a planted dead-lettered event, redrives it, and sees it processed', async () => {
    await register('console-admin@example.com');
    await grantRole(platform.canonical.workerDb, 'console-admin@example.com', 'admin', {
      actor: 'test',
    });
    const victim = await register('console-victim@example.com');
    await platform.workers!.drain({ timeoutMs: 60_000 });

    // Plant: the victim's registration event, as if it had failed max_retries times.
    const { rows } = await platform.canonical.workerDb.query<{ id: string }>(
      `UPDATE outbox SET processed_at = NULL, dead_lettered_at = now(), retry_count = max_retries,
              last_error = 'planted: projection store timed out after 2000 ms'
        WHERE id = (SELECT max(id) FROM outbox WHERE aggregate_id = $1) RETURNING id::text`,
      [victim],
    );
    const eventId = rows[0]!.id;

    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    await logIn(page, 'console-admin@example.com');
    const row = page.locator(`tr[data-event-id="${eventId}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await page.textContent('#c-dead')).toBe('1');
    expect(await row.textContent()).toContain('dead-lettered');
    expect(await row.textContent()).toContain('planted: projection store timed out');

    // Leases per container, with owners (this process runs the processors).
    await page.locator('#lease-rows tr').first().waitFor();
    expect(await page.locator('#lease-rows').textContent()).toContain(platform.workers!.hostName);

    await row.locator('button', { hasText: 'Redrive' }).click();
    // (Page-side expressions as strings: this project's TypeScript has no DOM types.)
    await page.waitForFunction(`!document.querySelector('tr[data-event-id="${eventId}"]')`, null, {
      timeout: 30_000,
    });
    await page.waitForFunction(`document.getElementById('c-dead').textContent === '0'`, null, {
      timeout: 30_000,
    });
    await platform.workers!.drain({ timeoutMs: 60_000 });
    const after = await platform.canonical.workerDb.query<{ processed: boolean; dead: boolean }>(
      'SELECT processed_at IS NOT NULL AS processed, dead_lettered_at IS NOT NULL AS dead FROM outbox WHERE id = $1',
      [eventId],
    );
    expect(after.rows[0]).toEqual({ processed: true, dead: false });

    // Drift: run a reconcile from the console.
    await page.click('#reconcile');
    await page.waitForFunction(
      `/last run .*drifted/.test(document.getElementById('drift-note').textContent)`,
      null,
      { timeout: 120_000 },
    );
    expect(await page.locator('#drift-rows tr').count()).toBeGreaterThan(0);

    const shot = process.env.OPS_SCREENSHOT;
    if (shot) {
      // Some live traffic for the charts and delays, one event still retrying, then the picture.
      for (let i = 0; i < 12; i++) {
        const u = await registerWithToken(`console-user-${i}@example.com`);
        await fetch(`${url}/v1/posts`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${u.token}` },
          body: JSON.stringify({ text: `hello from user ${i}` }),
        });
        await new Promise((r) => setTimeout(r, 700));
      }
      await platform.workers!.drain({ timeoutMs: 60_000 });
      await platform.canonical.workerDb.query(
        `UPDATE outbox SET processed_at = NULL, retry_count = 3, next_retry_at = now() + interval '1 hour',
                last_error = 'planted: canonical read timed out after 2000 ms'
          WHERE id = (SELECT max(id) FROM outbox)`,
      );
      await new Promise((r) => setTimeout(r, 6_000));
      await page.screenshot({ path: path.resolve(shot), fullPage: true });
    }
    await page.close();
  }, 300_000);

  it('a non-admin is refused', async () => {
    await register('console-user@example.com');
    const page = await browser.newPage();
    await logIn(page, 'console-user@example.com');
    await page.locator('#refused').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.textContent('#refused')).toContain('admins only');
    expect(await page.locator('#console').isVisible()).toBe(false);
    // And the API behind it says the same, without a token or with a forged one.
    expect((await fetch(`${url}/ops/api/outbox`)).status).toBe(401);
    expect(
      (await fetch(`${url}/ops/api/outbox`, { headers: { 'x-asora-admin-token': 'x'.repeat(64) } }))
        .status,
    ).toBe(401);
    await page.close();
  }, 120_000);
});
