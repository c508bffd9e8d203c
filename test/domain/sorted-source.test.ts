import { describe, expect, it } from 'vitest';
import { decodeKeyset, encodeKeyset } from '../../src/domain/cursor.ts';
import {
  type Candidate,
  type PageFetcher,
  SortedSource,
  takeNewest,
} from '../../src/domain/sorted-source.ts';
import { AppError } from '../../src/errors.ts';

const c = (id: string, createdAt: string): Candidate => ({
  id,
  authorId: 'a',
  text: id,
  tags: [],
  createdAt,
  updatedAt: createdAt,
});

/** A store that orders by createdAt only and pages with an offset continuation, ties in arbitrary order. */
function pagedStore(items: Candidate[], after?: { t: string }): PageFetcher {
  const sorted = items
    .filter((i) => !after || i.createdAt <= after.t)
    .sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? -1 : 1,
    );
  return async (batch, continuation) => {
    const from = Number(continuation ?? 0);
    const page = sorted.slice(from, from + batch);
    return {
      items: page,
      continuation: from + batch < sorted.length ? String(from + batch) : null,
    };
  };
}

async function drainAll(sources: SortedSource[]): Promise<string[]> {
  const out: string[] = [];
  for (let x = await takeNewest(sources); x; x = await takeNewest(sources)) out.push(x.id);
  return out;
}

describe('merging newest-first sources', () => {
  const T1 = '2026-01-01T00:00:01.000Z';
  const T2 = '2026-01-01T00:00:02.000Z';
  const T3 = '2026-01-01T00:00:03.000Z';
  // A tie group of five at T2 straddles every page boundary of size 2.
  const feed = [c('a', T3), c('b', T2), c('c', T2), c('d', T2), c('e', T2), c('f', T2), c('g', T1)];

  it('orders by (createdAt, id) descending even when ties straddle store pages', async () => {
    expect(await drainAll([new SortedSource(pagedStore(feed), 2)])).toEqual([
      'a',
      'f',
      'e',
      'd',
      'c',
      'b',
      'g',
    ]);
  });

  it('resumes after a keyset cursor inside a tie group without gaps or repeats', async () => {
    const after = { t: T2, id: 'd' };
    const s = new SortedSource(pagedStore(feed, after), 2, after);
    expect(await drainAll([s])).toEqual(['c', 'b', 'g']);
  });

  it('merges several sources newest first', async () => {
    const other = [c('z', T3), c('y', T1)];
    const ids = await drainAll([
      new SortedSource(pagedStore(feed), 3),
      new SortedSource(pagedStore(other), 1),
    ]);
    expect(ids).toEqual(['z', 'a', 'f', 'e', 'd', 'c', 'b', 'y', 'g']);
  });

  it('cursors round-trip and garbage is a 400', () => {
    const k = { t: T2, id: '6f1c2a9e-1111-4222-8333-944455556666' };
    expect(decodeKeyset(encodeKeyset(k))).toEqual(k);
    for (const bad of [
      'x',
      'e30',
      Buffer.from('{"t":"yesterday","id":"1"}').toString('base64url'),
    ]) {
      expect(() => decodeKeyset(bad)).toThrow(AppError);
    }
  });
});
