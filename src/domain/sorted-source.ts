/**
 * One newest-first stream of feed candidates, read page by page from a store or canonical,
 * so several can be merged. Items sort by (createdAt DESC, id DESC); a store orders only by
 * createdAt, so the items that tie with a page's last createdAt are held back until the next
 * page arrives: a keyset cursor can then never split a tie group.
 */
export interface Candidate {
  id: string;
  authorId: string;
  text: string;
  tags: string[];
  createdAt: string;
  updatedAt: string;
}

export interface SourcePage {
  items: Candidate[];
  continuation: string | null;
}

export type PageFetcher = (batch: number, continuation: string | null) => Promise<SourcePage>;

/** Descending by createdAt, then id. */
export const newerFirst = (a: Candidate, b: Candidate) =>
  a.createdAt === b.createdAt
    ? a.id < b.id
      ? 1
      : a.id > b.id
        ? -1
        : 0
    : a.createdAt < b.createdAt
      ? 1
      : -1;

/** Strictly after a keyset cursor in newest-first order. */
export const olderThan = (c: Candidate, k: { t: string; id: string } | undefined) =>
  !k || c.createdAt < k.t || (c.createdAt === k.t && c.id < k.id);

export class SortedSource {
  private ready: Candidate[] = [];
  private held: Candidate[] = [];
  private continuation: string | null = null;
  private done = false;

  constructor(
    private readonly fetch: PageFetcher,
    private readonly batch: number,
    private readonly after?: { t: string; id: string },
  ) {}

  async peek(): Promise<Candidate | undefined> {
    while (this.ready.length === 0 && !this.done) await this.fill();
    return this.ready[0];
  }

  shift(): Candidate | undefined {
    return this.ready.shift();
  }

  private async fill(): Promise<void> {
    const page = await this.fetch(this.batch, this.continuation);
    this.continuation = page.continuation;
    this.done = !page.continuation;
    const all = [...this.held, ...page.items.filter((c) => olderThan(c, this.after))].sort(
      newerFirst,
    );
    const lastT = all.at(-1)?.createdAt;
    if (this.done || lastT === undefined) {
      this.ready.push(...all);
      this.held = [];
    } else {
      this.held = all.filter((c) => c.createdAt === lastT);
      this.ready.push(...all.filter((c) => c.createdAt !== lastT));
    }
  }
}

/** Takes the newest head among the sources (undefined when all are exhausted). */
export async function takeNewest(sources: SortedSource[]): Promise<Candidate | undefined> {
  let best: SortedSource | undefined;
  let bestHead: Candidate | undefined;
  for (const s of sources) {
    const head = await s.peek();
    if (head && (!bestHead || newerFirst(head, bestHead) < 0)) {
      best = s;
      bestHead = head;
    }
  }
  return best?.shift();
}
