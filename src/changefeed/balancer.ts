import { isAvailable, type LeaseDoc } from './lease.ts';

/**
 * Equal-partitions balancing, as the .NET processor's EqualPartitionsBalancingStrategy:
 * every host that holds a live lease (plus this one) should own about leases / hosts.
 * Returns the leases this host should try to acquire now: available (free or expired)
 * ones first, up to what it is short of; otherwise at most ONE lease stolen from the
 * busiest host when that host holds more than its fair share. Stealing one at a time
 * keeps the fleet from oscillating when several hosts rebalance at once.
 */
export function leasesToAcquire(leases: LeaseDoc[], me: string, now: number): LeaseDoc[] {
  if (leases.length === 0) return [];
  const perHost = new Map<string, number>([[me, 0]]);
  const available: LeaseDoc[] = [];
  for (const l of leases) {
    if (isAvailable(l, now)) available.push(l);
    else perHost.set(l.owner!, (perHost.get(l.owner!) ?? 0) + 1);
  }
  const hosts = perHost.size;
  const target = leases.length > hosts ? Math.ceil(leases.length / hosts) : 1;
  const need = target - perHost.get(me)!;
  if (need <= 0) return [];
  if (available.length > 0) return available.slice(0, need);

  let busiest: string | undefined;
  let most = -1;
  for (const [host, n] of [...perHost].sort(([a], [b]) => a.localeCompare(b))) {
    if (host !== me && n > most) {
      busiest = host;
      most = n;
    }
  }
  // Steal only from a host above its share (one below target when we need several).
  if (busiest !== undefined && most > target - (need > 1 ? 1 : 0)) {
    const victim = leases.find((l) => l.owner === busiest);
    return victim ? [victim] : [];
  }
  return [];
}
