import type { PipelineContext } from '../../pipeline/context.ts';

export type ProjectionKind = 'posts' | 'feeds' | 'counters' | 'profiles';
export const PROJECTION_KINDS: readonly ProjectionKind[] = [
  'posts',
  'feeds',
  'counters',
  'profiles',
];

/** One document (or feed) that does not match canonical data. */
export interface Drift {
  kind: ProjectionKind;
  /** Document id (posts, counters, profiles) or recipient id (feeds). */
  id: string;
  /** missing | stale | mismatch | stray | wrong_value | not_deleted | over_cap ... */
  problem: string;
  detail?: Record<string, unknown>;
}

export interface KindReport {
  /** Documents (or feeds) compared. */
  checked: number;
  drift: Drift[];
  /** Drifted documents (or feeds) written back to canonical truth (with --repair). */
  repaired: number;
}

export type ReconcileReport = Record<ProjectionKind, KindReport>;

export interface ReconcileOptions {
  repair: boolean;
  kinds?: readonly ProjectionKind[];
  /** Feeds: check this many users chosen at random; undefined = every user. */
  feedSample?: number;
  /** Called as work advances (for a progress bar): done so far, and the total when known. */
  onProgress?: (kind: ProjectionKind, done: number, total: number) => void;
}

/** Canonical scans read `readDb` (the replica when configured); repairs read and write the primary. */
export type ReconcileContext = PipelineContext;
