#!/usr/bin/env node
// The `asora` CLI: the compiled build in dist/ (built by `npm install` through `prepare`,
// or `npm run build`). No runtime transpiler.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('error: dist/ is missing: run `npm run build` (npm install runs it) first');
  process.exit(1);
}
await import(entry.href);
