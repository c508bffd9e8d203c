/**
 * The form names and tags are matched in: Unicode-decomposed, combining marks dropped,
 * lower-cased, so "Émile", "emile" and "EMILE" share one key. Stored on the documents and
 * applied to the query, so both stores compare plain strings byte-wise with their indexes.
 */
export function searchKey(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .normalize('NFC');
}

/**
 * The smallest string greater than every string starting with `prefix` (its last code
 * point plus one), so a prefix search is the range [prefix, prefixEnd(prefix)) on an
 * ordinary ascending index. undefined when no such bound exists (last code point U+10FFFF).
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = [...prefix];
  const last = points.pop();
  if (last === undefined) return undefined;
  const next = (last.codePointAt(0) as number) + 1;
  if (next > 0x10ffff) return undefined;
  // Skip the surrogate block: those code points are not valid on their own.
  const cp = next >= 0xd800 && next <= 0xdfff ? 0xe000 : next;
  return points.join('') + String.fromCodePoint(cp);
}
