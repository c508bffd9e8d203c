import { STATUS_CODES } from 'node:http';
import type { SwaggerOptions } from '@fastify/swagger';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { SESSION_HEADER } from './session.ts';

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document is walked generically
type Json = any;

/**
 * The OpenAPI 3.0 document of the API: zod schemas registered with an `id` (src/api/schemas.ts)
 * become `components.schemas` and are referenced; every operation has an `operationId`
 * (src/api/contract.ts). The finishing pass below fixes what OpenAPI 3.0 cannot say the
 * way zod says it and keeps the document to what the operations use.
 */
export function swaggerOptions(): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Asora API',
        version: '1.0.0',
        description:
          'Errors are {"error": {"code", "message", "details"}}; lists are {"items", "cursor"}; timestamps are ISO 8601 UTC.',
      },
      servers: [{ url: '/', description: 'this server' }],
      components: {
        securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (doc) => finishDocument(jsonSchemaTransformObject(doc) as Json),
  };
}

const OPERATIONS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

export function finishDocument(doc: Json): Json {
  walkSchemas(doc, (s) => {
    // OAS 3.0: `nullable` does not add null to an `enum`; the enum itself must list it.
    if (s.nullable === true && Array.isArray(s.enum) && !s.enum.includes(null)) s.enum.push(null);
    // OAS 3.0 schemas have `example`, not JSON Schema's `examples`.
    if (Array.isArray(s.examples)) {
      s.example ??= s.examples[0];
      delete s.examples;
    }
  });
  const components: Record<string, Json> = doc.components?.schemas ?? {};
  for (const ops of Object.values<Json>(doc.paths ?? {})) {
    for (const method of OPERATIONS) {
      const op = ops[method];
      if (!op) continue;
      // A parameter without a written example takes its first allowed value.
      for (const p of op.parameters ?? []) p.example ??= p.schema?.enum?.[0] ?? p.schema?.default;
      for (const [status, response] of Object.entries<Json>(op.responses ?? {})) {
        if (response.description === 'Default Response')
          response.description = STATUS_CODES[status] ?? status;
      }
      // Every authenticated operation takes the read-your-writes session (the response
      // header is described on the parameter: declared per response, typed clients and
      // Dredd would require it on every answer, and only a write returns it).
      if (op.security?.length) op.parameters = [...(op.parameters ?? []), sessionParameter()];
      // Tools that build requests (Dredd) read the example from the media type.
      const media = op.requestBody?.content?.['application/json'];
      if (media && media.example === undefined) {
        const target = resolve(components, media.schema);
        if (target?.example !== undefined) media.example = target.example;
      }
    }
  }
  // zod emits an input and an output variant of every registered schema: keep the used ones.
  const used = new Set<string>();
  const visit = (node: Json) => {
    JSON.stringify(node, (key, value) => {
      if (key === '$ref' && typeof value === 'string') {
        const name = value.replace('#/components/schemas/', '');
        if (!used.has(name)) {
          used.add(name);
          visit(components[name]);
        }
      }
      return value;
    });
  };
  visit(doc.paths);
  for (const name of Object.keys(components)) if (!used.has(name)) delete components[name];
  return doc;
}

/**
 * The x-asora-session request parameter (src/api/session.ts). Its example is empty (no
 * session), the one value a tool that builds requests from examples can send as is.
 */
const sessionParameter = (): Json => ({
  name: SESSION_HEADER,
  in: 'header',
  required: false,
  description:
    'Read-your-writes on any API instance: a response to a request that wrote to the projections returns an x-asora-session header; send the last value you got on your next requests (opaque, signed; a forged or altered one is 400).',
  schema: { type: 'string', maxLength: 8192 },
  example: '',
});

function resolve(components: Record<string, Json>, schema: Json): Json {
  const ref: unknown = schema?.$ref;
  return typeof ref === 'string' ? components[ref.replace('#/components/schemas/', '')] : schema;
}

/** Calls `fn` on every schema object in the document. */
function walkSchemas(doc: Json, fn: (schema: Json) => void): void {
  const seen = new Set<Json>();
  const walk = (node: Json, isSchema: boolean) => {
    if (node === null || typeof node !== 'object' || seen.has(node)) return;
    seen.add(node);
    if (Array.isArray(node)) {
      for (const n of node) walk(n, isSchema);
      return;
    }
    if (isSchema) fn(node);
    for (const [key, value] of Object.entries<Json>(node)) {
      if (isSchema && key === 'properties') {
        for (const p of Object.values(value ?? {})) walk(p, true);
      } else if (isSchema && (key === 'example' || key === 'enum' || key === 'required')) {
        // data, not schemas
      } else {
        walk(value, isSchema || key === 'schema' || key === 'schemas');
      }
    }
  };
  walk(doc, false);
}
