#!/usr/bin/env node
// Writes an initialised, empty PGlite data directory as a gzipped tarball (default: the
// cache path src/sql/pglite.ts reads). New embedded databases are loaded from it, so no
// long-lived process ever runs initdb (which briefly needs two PostgreSQL instances,
// ~700 MB). Run by `npm install` (postinstall) and, when the file is missing, in a child
// process on the first start.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';

// Default path: the one src/sql/pglite.ts (PGLITE_TEMPLATE) reads.
const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
const root = entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const out =
  process.argv[2] ??
  path.join(root, '..', '..', '.cache', 'asora', `pglite-${version}-template.tgz`);
if (existsSync(out)) process.exit(0);
const db = await PGlite.create();
const dump = await db.dumpDataDir('gzip');
await db.close();
await mkdir(path.dirname(out), { recursive: true });
const tmp = `${out}.${process.pid}.tmp`;
await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
await rename(tmp, out); // atomic: concurrent first starts never read half a file
