import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { withTimeout } from '../observability/timeout.ts';
import {
  checkKey,
  checkPrefix,
  OBJECT_STORE_TIMEOUT_MS,
  type ObjectStore,
} from './object-store.ts';

const TMP = '.tmp-';

/** Cold storage in a local directory (DATA_DIR/archive by default): write to a temp file, then rename. */
export function createDirectoryStore(root: string): ObjectStore {
  const abs = path.resolve(root);
  const file = (key: string) => path.join(abs, ...checkKey(key).split('/'));
  const timed = <T>(p: Promise<T>, what: string) =>
    withTimeout(p, OBJECT_STORE_TIMEOUT_MS, `archive directory ${what}`);

  async function walk(dir: string, rel: string, out: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const key = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), key, out);
      else if (e.isFile() && !e.name.startsWith(TMP)) out.push(key);
    }
  }

  return {
    kind: 'directory',
    location: abs,
    async put(key, body) {
      const target = file(key);
      const tmp = path.join(path.dirname(target), `${TMP}${randomBytes(6).toString('hex')}`);
      await timed(
        (async () => {
          await mkdir(path.dirname(target), { recursive: true });
          // flush: the bytes are on disk before the rename makes them visible.
          await writeFile(tmp, body, { flush: true });
          await rename(tmp, target);
        })(),
        'put',
      ).catch(async (err) => {
        await rm(tmp, { force: true });
        throw err;
      });
    },
    async get(key) {
      try {
        return await timed(readFile(file(key)), 'get');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async list(prefix) {
      checkPrefix(prefix);
      const out: string[] = [];
      await timed(walk(abs, '', out), 'list');
      return out.filter((k) => k.startsWith(prefix)).sort();
    },
    async delete(key) {
      await timed(rm(file(key), { force: true }), 'delete');
    },
  };
}
