import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  claimKey,
  completeKey,
  type KeyRef,
  releaseKey,
  sweepExpiredKeys,
} from '../canonical/idempotency.ts';
import { AppError, ValidationError } from '../errors.ts';
import type { Db } from '../sql/db.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while a request holds an Idempotency-Key claim (recorded or released on send). */
    idempotencyKey?: KeyRef;
  }
}

export type IdempotentHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface IdempotencyOptions {
  db: Db;
  /** Deletes expired keys of every caller: as the worker role. */
  workerDb: Db;
  /** How long a key (and its first response) is kept. */
  ttlSeconds: number;
  /** An unfinished claim older than this (its request died) may be taken over. */
  staleSeconds: number;
}

/** Printable ASCII, as the IETF Idempotency-Key draft's examples (UUIDs and the like). */
const KEY = /^[\x21-\x7e]{1,255}$/;
const SWEEP_EVERY_MS = 60_000;

/**
 * `Idempotency-Key` for POSTs that create something. A route opts in by adding the returned
 * preHandler after authentication. First request with a key: runs, and its 2xx response is
 * kept (in canonical, so every API instance sees it). A retry with the same key and the same
 * body replays that response (header `Idempotent-Replayed: true`) and creates nothing; the
 * same key with a different body or route is 422 `idempotency_key_reused`; a retry while the
 * first is still running is 409 `idempotency_in_progress`. A failed request frees its key.
 */
export function installIdempotency(
  app: FastifyInstance,
  opts: IdempotencyOptions,
): IdempotentHandler {
  let lastSweep = 0;
  app.decorateRequest('idempotencyKey', undefined);

  app.addHook('onSend', async (request, reply, payload) => {
    const ref = request.idempotencyKey;
    if (!ref) return payload;
    request.idempotencyKey = undefined;
    if (reply.statusCode >= 200 && reply.statusCode < 300 && typeof payload === 'string') {
      await completeKey(opts.db, ref, reply.statusCode, payload);
    } else {
      await releaseKey(opts.db, ref).catch((err) =>
        request.log.warn({ err }, 'could not free an idempotency key'),
      );
    }
    return payload;
  });
  // A request that errors before it is sent (closed connection) must free its key too.
  app.addHook('onResponse', async (request) => {
    const ref = request.idempotencyKey;
    if (ref) await releaseKey(opts.db, ref).catch(() => {});
  });

  return async function idempotent(request: FastifyRequest, reply: FastifyReply) {
    const header = request.headers['idempotency-key'];
    if (header === undefined) return;
    if (typeof header !== 'string' || !KEY.test(header)) {
      throw new ValidationError('Idempotency-Key must be 1-255 printable ASCII characters', {
        field: 'Idempotency-Key',
      });
    }
    if (Date.now() - lastSweep > SWEEP_EVERY_MS) {
      lastSweep = Date.now();
      sweepExpiredKeys(opts.workerDb).catch((err) =>
        request.log.warn({ err }, 'could not delete expired idempotency keys'),
      );
    }
    const ref: KeyRef = { userId: request.userId || undefined, key: header };
    const route = `${request.method} ${request.routeOptions.url}`;
    const hash = createHash('sha256')
      .update(JSON.stringify(request.body ?? null))
      .digest('hex');
    const state = await claimKey(opts.db, ref, {
      route,
      hash,
      ttlSeconds: opts.ttlSeconds,
      staleSeconds: opts.staleSeconds,
    });
    switch (state.kind) {
      case 'new':
        request.idempotencyKey = ref;
        return;
      case 'done':
        return reply
          .status(state.status)
          .header('idempotent-replayed', 'true')
          .type('application/json; charset=utf-8')
          .send(state.response);
      case 'in_progress':
        reply.header('retry-after', '1');
        throw new AppError(
          409,
          'idempotency_in_progress',
          'a request with this Idempotency-Key is still being processed; retry',
        );
      case 'mismatch':
        throw new AppError(
          422,
          'idempotency_key_reused',
          'this Idempotency-Key was used for a different request',
        );
    }
  };
}
