import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashKey } from '../../src/projections/hash.ts';

/** FNV-1a over the UTF-8 bytes, as written in the spec (the reference for the fast path). */
function reference(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

describe('hashKey', () => {
  it('is 32-bit FNV-1a of the UTF-8 bytes (published test vectors)', () => {
    expect(hashKey('')).toBe(0x811c9dc5);
    expect(hashKey('a')).toBe(0xe40c292c);
    expect(hashKey('foobar')).toBe(0xbf9cf968);
  });

  it('gives the same value on the ASCII fast path and for any other string', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => hashKey(s) === reference(s)));
    fc.assert(fc.property(fc.uuid(), (s) => hashKey(s) === reference(s)));
    expect(hashKey('zoë:ß')).toBe(reference('zoë:ß'));
  });
});
