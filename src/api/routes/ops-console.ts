import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync } from 'fastify';
import { NotFoundError } from '../../errors.ts';

const PUBLIC = fileURLToPath(new URL('../../../public/ops/', import.meta.url));
const UPLOT = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

/** Every file the console page loads: its own, and uPlot from the package (no CDN). */
const ASSETS: Record<string, { file: string; type: string }> = {
  'console.js': { file: path.join(PUBLIC, 'console.js'), type: 'text/javascript; charset=utf-8' },
  'console.css': { file: path.join(PUBLIC, 'console.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': {
    file: path.join(UPLOT, 'uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  'uPlot.min.css': { file: path.join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * The ops console page at /ops. The page holds no data: it logs in through /v1/auth/login
 * and reads /ops/api with the admin's token, so a non-admin sees only a refusal.
 */
export const opsConsoleRoutes: FastifyPluginAsync = async (app) => {
  const cache = new Map<string, Buffer>();
  const load = async (file: string) => {
    let body = cache.get(file);
    if (!body) {
      body = await readFile(file);
      cache.set(file, body);
    }
    return body;
  };
  const page = async (_req: unknown, reply: import('fastify').FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(await load(path.join(PUBLIC, 'index.html')));
  app.get('/ops', { schema: { hide: true } }, page);
  app.get('/ops/', { schema: { hide: true } }, page);
  app.get<{ Params: { name: string } }>(
    '/ops/assets/:name',
    { schema: { hide: true } },
    async (request, reply) => {
      const asset = ASSETS[request.params.name];
      if (!asset) throw new NotFoundError(`no asset ${request.params.name}`);
      return reply.type(asset.type).send(await load(asset.file));
    },
  );
};
