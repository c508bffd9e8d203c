/** One page of a continuation query (the projection port's shape). */
export interface Page<T> {
  items: T[];
  continuation: string | null;
}

/** Every page of a continuation query, in order: fetch(null) first, then each token given back. */
export async function* pages<T>(
  fetch: (continuation: string | null) => Promise<Page<T>>,
): AsyncGenerator<T[]> {
  let continuation: string | null = null;
  do {
    const page: Page<T> = await fetch(continuation);
    yield page.items;
    continuation = page.continuation;
  } while (continuation);
}

/** Every item of a continuation query, collected. */
export async function allItems<T>(
  fetch: (continuation: string | null) => Promise<Page<T>>,
): Promise<T[]> {
  const out: T[] = [];
  for await (const items of pages(fetch)) out.push(...items);
  return out;
}

/**
 * Every page of a keyset scan, in order: fetch(first) first, then fetch(the last item's
 * key) until a page comes back empty.
 */
export async function* keysetPages<T, K>(
  fetch: (after: K) => Promise<T[]>,
  first: K,
  keyOf: (item: T) => K,
): AsyncGenerator<T[]> {
  let after = first;
  for (;;) {
    const items = await fetch(after);
    if (items.length === 0) return;
    yield items;
    after = keyOf(items[items.length - 1]!);
  }
}
