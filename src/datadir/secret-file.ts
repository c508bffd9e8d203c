import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A random secret kept in a file of DATA_DIR (mode 600): read if present, else generated
 * once, so it survives restarts (the JWT signing secret, the local admin token).
 */
export async function secretFile(dataDir: string, name: string): Promise<string> {
  const file = path.join(dataDir, name);
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Reads an existing secret file; undefined when absent or unreadable (another user's). */
export async function readSecretFile(dataDir: string, name: string): Promise<string | undefined> {
  try {
    const s = (await readFile(path.join(dataDir, name), 'utf8')).trim();
    return s.length >= 32 ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The token runbook commands present to a live embedded server (header x-asora-admin-token). */
export const ADMIN_TOKEN_FILE = 'admin-token';
