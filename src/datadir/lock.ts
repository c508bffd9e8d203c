import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AppError } from '../errors.ts';

/**
 * An exclusive lock on the embedded data directory: PGlite holds its files in-process, so a
 * second process opening them corrupts them. The lock file records who holds it; a lock
 * whose process is gone (crash, SIGKILL) is taken over.
 */
export const LOCK_FILE = 'asora.lock';

export interface LockHolder {
  pid: number;
  /** What the holder runs, e.g. `asora start`. */
  command: string;
  startedAt: string;
  /** /proc start time of the holder, so a recycled PID is not mistaken for the holder. */
  procStart?: string;
  /** Where the holder serves its API (set once it listens), for runbooks sent through it. */
  url?: string;
}

export class DataDirLockedError extends AppError {
  constructor(
    readonly dataDir: string,
    readonly holder: LockHolder,
    hint = 'stop that process first (kill -TERM <pid>; it shuts down gracefully), or point DATA_DIR elsewhere',
  ) {
    super(
      409,
      'data_dir_locked',
      `the data directory ${dataDir} is in use by PID ${holder.pid} (${holder.command}, since ${holder.startedAt}): ${hint.replaceAll('<pid>', String(holder.pid))}`,
    );
  }
}

interface Held {
  refs: number;
  file: string;
  info: LockHolder;
}

/** Locks this process holds, by directory: the canonical and projection stores share one. */
const held = new Map<string, Held>();

function procStartOf(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat (after the parenthesised command name) is the start time.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when the process that wrote this lock still runs. */
export function isAlive(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = procStartOf(holder.pid);
  return !(holder.procStart && start && start !== holder.procStart);
}

async function readHolder(file: string): Promise<LockHolder | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as LockHolder;
    return Number.isInteger(parsed.pid) && parsed.pid > 0 ? parsed : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Half-written or garbage: treated as held by nobody alive.
    return { pid: 0, command: 'unknown', startedAt: 'unknown' };
  }
}

/** The live process holding dataDir's lock, if another one does. */
export async function lockHolder(dataDir: string): Promise<LockHolder | undefined> {
  const holder = await readHolder(path.join(dataDir, LOCK_FILE));
  if (!holder || holder.pid === process.pid || holder.pid === 0) return undefined;
  return isAlive(holder) ? holder : undefined;
}

function describeCommand(): string {
  const args = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  return `asora ${args.slice(0, 2).join(' ')}`.trim();
}

/**
 * Takes the lock on dataDir (re-entrant within this process) or throws DataDirLockedError
 * naming the live holder. Resolves to a release function.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const dir = path.resolve(dataDir);
  const mine = held.get(dir);
  if (mine) {
    mine.refs++;
    return releaser(dir);
  }
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  const info: LockHolder = {
    pid: process.pid,
    command: describeCommand(),
    startedAt: new Date().toISOString(),
    procStart: procStartOf(process.pid),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(`${JSON.stringify(info)}\n`);
      } finally {
        await fh.close();
      }
      held.set(dir, { refs: 1, file, info });
      return releaser(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readHolder(file);
    if (!holder) continue; // released in between: try again
    if (holder.pid !== 0 && isAlive(holder)) throw new DataDirLockedError(dir, holder);
    await takeOver(file, holder);
  }
  throw new AppError(
    409,
    'data_dir_locked',
    `could not lock ${dir}: the lock keeps changing hands`,
  );
}

/**
 * Moves a stale lock aside. If another process took it over and re-locked in between, the
 * file moved is a live lock: it is put back (link fails if a newer one exists) and the
 * next attempt reports its holder.
 */
async function takeOver(file: string, stale: LockHolder): Promise<void> {
  const aside = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    await rename(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved && moved.pid !== stale.pid && moved.pid !== 0 && isAlive(moved)) {
    await link(aside, file).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}

function releaser(dir: string): () => Promise<void> {
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const h = held.get(dir);
    if (!h || --h.refs > 0) return;
    held.delete(dir);
    await unlink(h.file).catch(() => {});
  };
}

/** Records where this process serves its API, so runbook commands can go through it. */
export async function advertiseUrl(dataDir: string, url: string): Promise<void> {
  const h = held.get(path.resolve(dataDir));
  if (!h) return;
  h.info = { ...h.info, url };
  const tmp = `${h.file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(h.info)}\n`, { mode: 0o600 });
  await rename(tmp, h.file);
}

// A process that exits without closing its stores (process.exit, uncaught error) still frees
// its lock; only SIGKILL leaves one behind, and that one is stale (taken over above).
process.once('exit', () => {
  for (const h of held.values()) {
    try {
      unlinkSync(h.file);
    } catch {}
  }
  held.clear();
});
