import type { Logger } from '../observability/logger.ts';
import type { Db } from '../sql/db.ts';
import { archiveAudit } from './audit.ts';
import { parseAge } from './format.ts';
import type { ObjectStore } from './object-store.ts';
import { archivePosts } from './posts.ts';

export interface ArchiveSchedule {
  stop(): Promise<void>;
}

/**
 * The archive runs of `work` on a timer (ARCHIVE_INTERVAL_MINUTES; off by default). Several
 * `work` processes may run it at once: rows are claimed by a version-guarded update and the
 * batch files are named by their ids, so a duplicate run only repeats work.
 */
export function startArchiveSchedule(opts: {
  db: Db;
  objects: ObjectStore;
  log: Logger;
  intervalMinutes: number;
  postsOlderThan: string;
  auditOlderThan: string;
}): ArchiveSchedule {
  const postsAge = parseAge(opts.postsOlderThan);
  const auditAge = parseAge(opts.auditOlderThan);
  let running: Promise<void> | undefined;
  const once = async () => {
    const now = Date.now();
    const deps = { db: opts.db, objects: opts.objects };
    try {
      const posts = await archivePosts(deps, { before: new Date(now - postsAge) });
      const audit = await archiveAudit(deps, { before: new Date(now - auditAge) });
      opts.log.info(
        { posts: posts.items, audit: audit.items, files: posts.files.length + audit.files.length },
        'scheduled archive run done',
      );
    } catch (err) {
      opts.log.error({ err }, 'scheduled archive run failed; the next run resumes it');
    }
  };
  const timer = setInterval(() => {
    running ??= once().finally(() => {
      running = undefined;
    });
  }, opts.intervalMinutes * 60_000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
