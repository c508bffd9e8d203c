import { randomBytes, type ScryptOptions, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';

/**
 * Password hashing with scrypt (memory-hard). The stored form carries its parameters, so
 * they can be raised later without breaking existing hashes:
 * `scrypt$N$r$p$<salt base64>$<hash base64>`.
 */
const PARAMS = { N: 2 ** 15, r: 8, p: 1 };
const KEY_LEN = 32;

function scrypt(
  password: string,
  salt: Buffer,
  keylen: number,
  opts: ScryptOptions,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must cover 128 * N * r bytes, with headroom.
    scryptCb(
      password,
      salt,
      keylen,
      { ...opts, maxmem: 256 * (opts.N ?? 0) * (opts.r ?? 8) },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LEN, PARAMS);
  return [
    'scrypt',
    PARAMS.N,
    PARAMS.r,
    PARAMS.p,
    salt.toString('base64'),
    key.toString('base64'),
  ].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * The key a password derives under stored parameters `scrypt$N$r$p$<salt>` (a stored hash
 * without its key), base64 like the stored key: login sends it to the database, which
 * compares it with the stored one, so the application never reads a hash.
 */
export async function deriveKey(password: string, params: string): Promise<string | undefined> {
  const [scheme, n, r, p, salt] = params.split('$');
  if (scheme !== 'scrypt' || !n || !r || !p || !salt) return undefined;
  const key = await scrypt(password, Buffer.from(salt, 'base64'), KEY_LEN, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return key.toString('base64');
}
