/** FNV-1a (32-bit): a stable hash of a partition key, the same in every process and release. */
export function hashKey(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Over the UTF-8 bytes: ASCII (every id we make) is its own byte, without a Buffer.
    if (c >= 0x80) return hashBytes(s);
    h ^= c;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function hashBytes(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
