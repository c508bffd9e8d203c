import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STAMP = path.join(ROOT, 'dist', '.tsbuildinfo');

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Tests that spawn the CLI run the compiled build (bin/asora.mjs → dist/), as production
 * does: rebuild it when a source is newer than the last build (incremental, so cheap).
 */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(STAMP).mtimeMs;
  } catch {}
  const sources = Math.max(
    newest(path.join(ROOT, 'src')),
    statSync(path.join(ROOT, 'tsconfig.build.json')).mtimeMs,
  );
  if (built >= sources) return;
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: ROOT,
      stdio: 'inherit',
    },
  );
}
