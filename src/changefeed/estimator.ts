import type { FeedRange, ProjectionContainer } from '../projections/port.ts';

/**
 * Changes waiting in one feed range after `continuation`, counted by reading ahead
 * (the port exposes no LSN arithmetic). Stops at `max` so a huge backlog costs a bounded
 * read; the true lag is then at least `max`.
 */
export async function countPendingChanges(
  container: ProjectionContainer,
  range: FeedRange,
  continuation: string | null,
  max: number,
): Promise<number> {
  let total = 0;
  let cont = continuation;
  while (total < max) {
    const page = await container.readChanges(range, cont, Math.min(1000, max - total));
    if (page.items.length === 0) break;
    total += page.items.length;
    cont = page.continuation;
  }
  return Math.min(total, max);
}
