import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineName } from '../support/databases.ts';
import { useApi } from '../support/use-api.ts';
import { call, grantRole, isErrorShape, register, type TestUser } from './harness.ts';

/** Fixed seed and a bounded budget: the same requests on every run (CI included). */
const SEED = 20261202;
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);

interface Schema {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
}
interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  query: Record<string, Schema>;
  body?: Schema;
}

/** Every operation of the API, read from its own OpenAPI document. */
function operations(doc: {
  paths: Record<string, Record<string, Record<string, unknown>>>;
}): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as { in: string; name: string; schema: Schema }[];
      const body = (op.requestBody as { content?: Record<string, { schema: Schema }> } | undefined)
        ?.content?.['application/json']?.schema;
      ops.push({
        method: method.toUpperCase(),
        path,
        pathParams: params.filter((p) => p.in === 'path').map((p) => p.name),
        query: Object.fromEntries(
          params.filter((p) => p.in === 'query').map((p) => [p.name, p.schema]),
        ),
        body,
      });
    }
  }
  return ops;
}

/** Strings that have broken things before: NUL, lone surrogates, bidi, huge, injection. */
const nasty = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\u202Eevil',
  '\u200b',
  '<script>alert(1)</script>',
  "'; DROP TABLE posts; --",
  'javascript:alert(1)',
  'x'.repeat(6000),
  '%00',
  '../../etc/passwd',
  '00000000-0000-0000-0000-000000000000',
  'eyJjIjoiISJ9',
  'eyJ0IjoiMjAyNi0wMS0wMVQwMDowMDowMC4wMDBaIiwiaWQiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDAifQ',
  '__proto__',
  '-1',
  '1e309',
);
const anyString = fc.oneof(nasty, fc.string({ unit: 'binary', maxLength: 40 }), fc.string());

/** Percent-encodes a path segment; a lone surrogate goes out as its raw (invalid) UTF-8 bytes. */
const encodeSegment = (v: string) =>
  v
    .split(/([\uD800-\uDFFF])/)
    .map((part) =>
      /^[\uD800-\uDFFF]$/.test(part)
        ? [
            ...Buffer.from([
              0xe0 | (part.charCodeAt(0) >> 12),
              0x80 | ((part.charCodeAt(0) >> 6) & 0x3f),
              0x80 | (part.charCodeAt(0) & 0x3f),
            ]),
          ]
            .map((b) => `%${b.toString(16).toUpperCase()}`)
            .join('')
        : encodeURIComponent(part),
    )
    .join('');

describe(`property fuzz over every route: 0 × 500 (${engineName})`, () => {
  const h = useApi();
  let user: TestUser;
  let admin: TestUser;
  let ids: string[];

  beforeAll(async () => {
    user = await register(h, 'pf-user');
    admin = await register(h, 'pf-admin');
    await grantRole(h, admin.id, 'admin');
    const post = await call(h, 'POST', '/v1/posts', {
      token: user.token,
      body: { text: 'target' },
    });
    const report = await call(h, 'POST', '/v1/reports', {
      token: user.token,
      body: { contentType: 'post', contentId: post.body.id, reason: 'fuzz' },
    });
    ids = [user.id, admin.id, post.body.id, report.body.id, crypto.randomUUID()];
  }, 180_000);

  it(`${RUNS} generated requests over every operation in the OpenAPI document`, async () => {
    const ops = operations(h.app.swagger() as never);
    expect(ops.length).toBeGreaterThan(25);
    const idValue = fc.oneof(fc.constantFrom(...ids), anyString);
    /** A value for a schema: often valid-looking (enums, ids), often not. */
    const valueFor = (s: Schema | undefined, depth = 0): fc.Arbitrary<unknown> => {
      const junk = fc.oneof(
        anyString,
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        depth < 2 ? fc.array(anyString, { maxLength: 3 }) : fc.constant([]),
      );
      if (!s) return junk;
      const options: fc.Arbitrary<unknown>[] = [junk];
      if (s.enum?.length) options.push(fc.constantFrom(...s.enum));
      if (s.properties && depth < 2) options.push(objectFor(s, depth + 1));
      if (s.items && depth < 2)
        options.push(fc.array(valueFor(s.items, depth + 1), { maxLength: 4 }));
      if (s.type === 'string') options.push(idValue);
      return fc.oneof(...options);
    };
    const objectFor = (s: Schema, depth = 0) =>
      fc.record(
        Object.fromEntries(
          Object.entries(s.properties ?? {}).map(([k, v]) => [k, valueFor(v, depth)]),
        ),
        { requiredKeys: [] },
      );
    const request = fc.constantFrom(...ops).chain((op) =>
      fc.record({
        op: fc.constant(op),
        params: fc.tuple(...op.pathParams.map(() => idValue), fc.constant(0)),
        query: fc.record(
          Object.fromEntries(
            Object.entries(op.query).map(([k, s]) => [
              k,
              fc.oneof(valueFor(s), fc.constantFrom('1', '100', '0', '-1', 'true')),
            ]),
          ),
          { requiredKeys: [] },
        ),
        body: op.body ? fc.oneof(objectFor(op.body), valueFor(undefined)) : fc.constant(undefined),
        who: fc.constantFrom('user', 'admin', 'none', 'garbage'),
      }),
    );

    await fc.assert(
      fc.asyncProperty(request, async ({ op, params, query, body, who }) => {
        let path = op.path;
        op.pathParams.forEach((name, i) => {
          path = path.replace(`{${name}}`, encodeSegment(String(params[i])));
        });
        const qs = new URLSearchParams(
          Object.entries(query).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : JSON.stringify(v),
          ]),
        ).toString();
        const token =
          who === 'user'
            ? user.token
            : who === 'admin'
              ? admin.token
              : who === 'garbage'
                ? 'x.y.z'
                : undefined;
        const r = await call(h, op.method, qs ? `${path}?${qs}` : path, {
          token,
          body: op.method === 'GET' || op.method === 'DELETE' ? undefined : (body ?? {}),
        });
        const where = `${op.method} ${path}?${qs} ${JSON.stringify(body)?.slice(0, 200)} → ${r.status} ${JSON.stringify(r.body)?.slice(0, 200)}`;
        expect(r.status, where).toBeLessThan(500);
        if (r.status >= 400) expect(isErrorShape(r.body), where).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 300_000);
});
