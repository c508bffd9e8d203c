import { beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/document.ts';
import { OpenApiCheck } from '../support/openapi-check.ts';

// biome-ignore lint/suspicious/noExplicitAny: the document is inspected generically
type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

describe('the OpenAPI document', () => {
  let doc: Json;
  let ops: { method: string; path: string; op: Json }[];

  beforeAll(async () => {
    doc = await openApiDocument();
    ops = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] })),
    );
  }, 120_000);

  it('names every operation once and has a server', () => {
    const ids = ops.map((o) => o.op.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['postAuthRegister', 'getFeed', 'getHealthReady']));
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('references named components, and holds only the ones it uses', () => {
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(
      expect.arrayContaining([
        'Error',
        'Post',
        'PostList',
        'Profile',
        'RegisterInput',
        'HealthReport',
      ]),
    );
    const text = JSON.stringify(doc.paths);
    expect(text).toContain('"$ref":"#/components/schemas/Post"');
    const all = JSON.stringify(doc);
    for (const name of names) expect(all).toContain(`#/components/schemas/${name}"`);
  });

  it('has an example on every parameter and request body', () => {
    for (const { method, path, op } of ops) {
      for (const p of op.parameters ?? [])
        expect(p.example, `${method} ${path} ${p.name}`).not.toBeUndefined();
      if (op.requestBody)
        expect(op.requestBody.content['application/json'].example, `${method} ${path}`).toBeTypeOf(
          'object',
        );
    }
  });

  it('documents every status the API answers with, and no body where there is none', () => {
    for (const { method, path, op } of ops) {
      const codes = Object.keys(op.responses);
      if (path.startsWith('/v1/')) {
        expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['429', '503']));
        if (method !== 'get')
          expect(codes, `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
      }
      if (op.responses['204'])
        expect(op.responses['204'].content, `${method} ${path}`).toBeUndefined();
    }
    expect(ops.filter((o) => o.op.responses['204'])).toHaveLength(12);
    expect(Object.keys(doc.paths['/v1/appeals'].post.responses)).toContain('403');
    expect(Object.keys(doc.paths['/health/ready'].get.responses)).toEqual(['200', '503']);
    const decision = doc.components.schemas.ModerationCase.properties.decision;
    expect(decision).toMatchObject({ nullable: true, enum: ['remove', 'keep', null] });
    const details = doc.components.schemas.Error.properties.error.properties.details;
    expect(details.type).toBe('array');
  });

  it('the response check finds what a validating proxy would', () => {
    const check = new OpenApiCheck(doc);
    const openCase = {
      id: 'c',
      reporterId: null,
      contentType: 'post',
      contentId: 'p',
      reason: 'spam',
      status: 'open',
      decision: null,
      decidedBy: null,
      createdAt: 't',
      updatedAt: 't',
      resolvedAt: null,
    };
    const json = 'application/json; charset=utf-8';
    const ok = (status: number, body: unknown, path = '/v1/reports', method = 'POST') =>
      check.violations(method, path, status, json, JSON.stringify(body));
    expect(ok(201, openCase)).toEqual([]);
    expect(ok(201, { ...openCase, decision: 'maybe' })).toHaveLength(1);
    expect(ok(201, { ...openCase, extra: 1 })).toHaveLength(1);
    expect(ok(418, { error: { code: 'x', message: 'y' } })).toHaveLength(1);
    expect(ok(400, { error: { code: 'x', message: 'y', details: { field: 'f' } } })).not.toEqual(
      [],
    );
    expect(check.violations('DELETE', '/v1/me', 204, null, '')).toEqual([]);
    expect(check.violations('DELETE', '/v1/me', 204, json, 'null')).toHaveLength(1);
    // Without null in the enum (the old document), a pending case's `decision: null` fails.
    const old = structuredClone(doc);
    old.components.schemas.ModerationCase.properties.decision.enum = ['remove', 'keep'];
    expect(
      new OpenApiCheck(old).violations('POST', '/v1/reports', 201, json, JSON.stringify(openCase)),
    ).toHaveLength(1);
  });
});
