/** FNV-1a (32-bit): a stable hash of a partition key, the same in every process and release. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
