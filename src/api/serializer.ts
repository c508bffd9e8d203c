import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * Responses are written by fast-json-stringify, compiled once per route from the JSON Schema
 * of the route's zod response schema (the same schema the OpenAPI document shows). The zod
 * serializer re-parses every response object by object before JSON.stringify: on a 50-post
 * feed page that parse was a tenth of the request's CPU. fast-json-stringify writes only the
 * schema's properties, so nothing outside the contract can leak. What it does not do is
 * validate: the test harness checks every response against the OpenAPI document instead.
 * A schema JSON Schema cannot express falls back to the zod serializer.
 */
export const serializerCompiler: FastifySerializerCompiler<z.ZodType> = (route) => {
  // Compiled on the route's first response: compiling every route's serializer up front
  // would add seconds to each start (and to every CLI command that builds the app).
  let write: ((data: unknown) => string) | undefined;
  return (data) => {
    write ??= compile(route);
    return write(data);
  };
};

function compile(route: Parameters<FastifySerializerCompiler<z.ZodType>>[0]) {
  try {
    const json = z.toJSONSchema(route.schema, { io: 'output', target: 'draft-7' });
    return fastJson(json as Parameters<typeof fastJson>[0]) as (data: unknown) => string;
  } catch {
    return zodSerializerCompiler(route as Parameters<typeof zodSerializerCompiler>[0]);
  }
}
