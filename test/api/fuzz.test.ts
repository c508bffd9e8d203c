import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, isErrorShape, register, type TestUser } from './harness.ts';

/** A small deterministic PRNG, so a failure reproduces. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUTES: [string, string][] = [
  ['POST', '/v1/auth/register'],
  ['POST', '/v1/auth/login'],
  ['GET', '/v1/me'],
  ['PATCH', '/v1/me/profile'],
  ['GET', '/v1/users/:id/profile'],
  ['PUT', '/v1/users/:id/follow'],
  ['DELETE', '/v1/users/:id/follow'],
  ['PUT', '/v1/users/:id/block'],
  ['DELETE', '/v1/users/:id/mute'],
  ['GET', '/v1/users/:id/followers'],
  ['GET', '/v1/users/:id/following'],
  ['GET', '/v1/users/:id/posts'],
  ['POST', '/v1/posts'],
  ['GET', '/v1/posts/:id'],
  ['PATCH', '/v1/posts/:id'],
  ['DELETE', '/v1/posts/:id'],
  ['PUT', '/v1/posts/:id/reactions/:type'],
  ['DELETE', '/v1/posts/:id/reactions/:type'],
  ['GET', '/v1/posts/:id/reactions'],
  ['GET', '/v1/feed'],
  ['GET', '/v1/notifications'],
  ['POST', '/v1/notifications/:id/read'],
  ['POST', '/v1/notifications/read-all'],
  ['POST', '/v1/reports'],
  ['POST', '/v1/appeals'],
  ['GET', '/v1/me/appeals'],
  ['GET', '/v1/admin/cases'],
  ['PATCH', '/v1/admin/cases/:id'],
  ['PATCH', '/v1/admin/appeals/:id'],
  ['GET', '/v1/admin/posts/search'],
];

describe(`HTTP API v1 fuzz: random junk never produces a 500 (${engineName})`, () => {
  const h = useApi();
  let user: TestUser;
  let postId: string;

  beforeAll(async () => {
    user = await register(h, 'fuzzer');
    postId = (
      await call(h, 'POST', '/v1/posts', { token: user.token, body: { text: 'fuzz target' } })
    ).body.id;
  }, 300_000);

  it('400 random requests over every route', async () => {
    const rnd = prng(20261125);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const ids = () => [
      postId,
      user.id,
      crypto.randomUUID(),
      '00000000-0000-0000-0000-000000000000',
      'not-a-uuid',
      '1',
      '%00',
      '..%2F..%2Fetc',
      'ünïcödé',
      'x'.repeat(3000),
      `${crypto.randomUUID()}'--`,
      'follow:x:1',
    ];
    const scalar = (): unknown =>
      pick([
        null,
        true,
        false,
        0,
        -1,
        1e308,
        'a',
        '',
        ' ',
        'x'.repeat(6000),
        '<script>',
        '\u0000',
        [],
        {},
        'like',
        'remove',
      ]);
    const junk = (depth = 0): unknown => {
      const r = rnd();
      if (depth > 2 || r < 0.4) return scalar();
      if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => junk(depth + 1));
      const keys = [
        'text',
        'tags',
        'email',
        'password',
        'displayName',
        'bio',
        'avatarUrl',
        'privacyLevel',
        'reason',
        'caseId',
        'contentType',
        'contentId',
        'decision',
        'status',
        'version',
        '__proto__',
        'constructor',
      ];
      return Object.fromEntries(
        Array.from({ length: Math.floor(rnd() * 5) }, () => [pick(keys), junk(depth + 1)]),
      );
    };
    const raws = [
      '{',
      '[1,2',
      'null',
      '"str"',
      '{"__proto__":{"x":1}}',
      '\u0000',
      '{"text":"a"}'.repeat(3),
    ];
    const queries = [
      '',
      '?limit=-1',
      '?limit=1e9',
      '?cursor=%ZZ',
      '?cursor=eyJ0IjoxfQ',
      '?unread=2',
      '?type=x',
      '?q=',
      `?q=${'a'.repeat(500)}`,
      '?status=open&limit=2',
      '?limit=1&cursor=' + 'A'.repeat(1999),
    ];

    for (let i = 0; i < 400; i++) {
      const [method, template] = pick(ROUTES);
      const path =
        template
          .replace(':id', () => encodeURIComponent(pick(ids())).replaceAll('%25', '%'))
          .replace(':type', () => pick(['like', 'LIKE', 'boom', '', '%20'])) + pick(queries);
      const token = rnd() < 0.8 ? user.token : pick([undefined, 'Bearer', 'x.y.z']);
      const useRaw = method !== 'GET' && rnd() < 0.25;
      const r = await call(h, method, path, {
        token,
        body: method !== 'GET' && !useRaw ? junk() : undefined,
        raw: useRaw ? pick(raws) : undefined,
        headers: useRaw
          ? {
              'content-type': pick([
                'application/json',
                'text/plain',
                'application/x-www-form-urlencoded',
              ]),
            }
          : {},
      });
      expect(r.status, `${method} ${path} → ${JSON.stringify(r.body)?.slice(0, 300)}`).toBeLessThan(
        500,
      );
      if (r.status >= 400) expect(isErrorShape(r.body), `${method} ${path}`).toBe(true);
    }
  }, 240_000);
});
