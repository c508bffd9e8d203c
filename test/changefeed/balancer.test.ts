import { describe, expect, it } from 'vitest';
import { leasesToAcquire } from '../../src/changefeed/balancer.ts';
import type { LeaseDoc } from '../../src/changefeed/lease.ts';
import { resolveProcessorOptions } from '../../src/changefeed/options.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const live = new Date(NOW + 60_000).toISOString();
const past = new Date(NOW - 1).toISOString();

function lease(range: number, owner: string | null, expiresAt = live): LeaseDoc {
  return {
    id: `p:c:${range}`,
    processorName: 'p',
    container: 'c',
    rangeId: String(range),
    owner,
    continuation: null,
    timestamp: new Date(NOW).toISOString(),
    expiresAt,
  };
}

const ids = (ls: LeaseDoc[]) => ls.map((l) => l.id);

describe('equal-partitions balancing', () => {
  it('a lone host takes every free lease', () => {
    const all = [0, 1, 2, 3].map((i) => lease(i, null));
    expect(ids(leasesToAcquire(all, 'a', NOW))).toEqual(ids(all));
  });

  it('takes expired leases before stealing, only as many as it is short of', () => {
    // b holds 2 live, c's 2 have expired; a and b are the live hosts → target 2 each.
    const all = [lease(0, 'b'), lease(1, 'b'), lease(2, 'c', past), lease(3, 'c', past)];
    expect(ids(leasesToAcquire(all, 'a', NOW))).toEqual(['p:c:2', 'p:c:3']);
    const one = [lease(0, 'b'), lease(1, 'b'), lease(2, 'b'), lease(3, 'c', past)];
    expect(ids(leasesToAcquire(one, 'a', NOW))).toEqual(['p:c:3']);
  });

  it('steals exactly one lease from the busiest host above its share', () => {
    const all = [0, 1, 2, 3, 4, 5].map((i) => lease(i, i < 4 ? 'b' : 'c'));
    // hosts a, b, c → target 2; a needs 2; b holds 4 > 1 → steal one of b's.
    const got = leasesToAcquire(all, 'a', NOW);
    expect(got).toHaveLength(1);
    expect(got[0]!.owner).toBe('b');
  });

  it('does not steal when the distribution is already as even as it can be', () => {
    const all = [lease(0, 'a'), lease(1, 'b'), lease(2, 'b'), lease(3, 'c')];
    for (const me of ['a', 'b', 'c']) expect(leasesToAcquire(all, me, NOW)).toEqual([]);
    const even = [0, 1, 2, 3, 4, 5].map((i) => lease(i, ['a', 'b', 'c'][i % 3]!));
    for (const me of ['a', 'b', 'c']) expect(leasesToAcquire(even, me, NOW)).toEqual([]);
  });

  it('a host with its fair share takes nothing, even when leases are free', () => {
    const all = [lease(0, 'a'), lease(1, 'a'), lease(2, 'b'), lease(3, null)];
    expect(leasesToAcquire(all, 'a', NOW)).toEqual([]);
    expect(ids(leasesToAcquire(all, 'b', NOW))).toEqual(['p:c:3']);
  });

  it('more hosts than leases: each host wants at most one', () => {
    const all = [lease(0, 'b'), lease(1, 'c')];
    expect(leasesToAcquire(all, 'a', NOW)).toEqual([]);
    expect(leasesToAcquire([], 'a', NOW)).toEqual([]);
  });
});

describe('processor options', () => {
  it('defaults to the .NET processor intervals', () => {
    const o = resolveProcessorOptions();
    expect(o).toMatchObject({
      leaseRenewIntervalMs: 17_000,
      leaseAcquireIntervalMs: 13_000,
      leaseExpirationIntervalMs: 60_000,
      feedPollDelayMs: 5_000,
    });
  });

  it('rejects settings that cannot work', () => {
    expect(() => resolveProcessorOptions({ feedPollDelayMs: 0 })).toThrow(/feedPollDelayMs/);
    expect(() => resolveProcessorOptions({ maxItemCount: Number.NaN })).toThrow(/maxItemCount/);
    expect(() =>
      resolveProcessorOptions({ leaseRenewIntervalMs: 60_000, leaseExpirationIntervalMs: 60_000 }),
    ).toThrow(/shorter/);
    expect(() => resolveProcessorOptions({ estimateIntervalMs: -1 })).toThrow(/estimateIntervalMs/);
  });
});
