import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/domain/password.ts';

describe('password hashing (scrypt)', () => {
  it('encodes its parameters and a random salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('rejects malformed stored hashes instead of throwing', async () => {
    for (const stored of ['', 'plain', 'scrypt$1$2', 'bcrypt$x$y$z$a$b', 'scrypt$16384$8$1$$']) {
      expect(await verifyPassword('x', stored)).toBe(false);
    }
  });
});
