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
