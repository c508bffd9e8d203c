import type { PairTable } from './pair-table.ts';

/** The mutes table: muter → muted (only the muter sees it). */
export const MUTES: PairTable = { table: 'mutes', from: 'muter_id', to: 'muted_id' };
