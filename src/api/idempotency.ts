import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  claimKey,
  completeKey,
  type KeyRef,
  releaseKey,
  scopeOf,
  sweepExpiredKeys,
} from '../canonical/idempotency.ts';
import { type IdempotentWriteScope, withIdempotentWrites } from '../canonical/idempotent-write.ts';
import { AppError, ValidationError } from '../errors.ts';
import type { Db } from '../sql/db.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set while a request holds an Idempotency-Key claim (recorded or released on send). */
    idempotencyKey?: KeyRef;
    /** Where the claimed key is published to the request's canonical transactions. */
    idempotentWrites?: IdempotentWriteScope;
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
 * first is still running is 409 `idempotency_in_progress`. A request that failed before it
 * wrote frees its key; one whose process died after its write committed (but before its
 * response was recorded) is never run again: a retry is 409 `idempotency_outcome_lost`.
 */
export function installIdempotency(
  app: FastifyInstance,
  opts: IdempotencyOptions,
): IdempotentHandler {
  let lastSweep = 0;
  app.decorateRequest('idempotencyKey', undefined);
  app.decorateRequest('idempotentWrites', undefined);
  // A POST with a key runs in a scope its canonical transactions can see: once the key is
  // claimed, the transaction that writes marks it committed (canonical/idempotent-write.ts).
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.method !== 'POST' || request.headers['idempotency-key'] === undefined)
      return done();
    request.idempotentWrites = {};
    withIdempotentWrites(request.idempotentWrites, done);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const ref = request.idempotencyKey;
    if (!ref) return payload;
    request.idempotencyKey = undefined;
    if (request.idempotentWrites) request.idempotentWrites.key = undefined;
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
        if (request.idempotentWrites)
          request.idempotentWrites.key = { scope: scopeOf(ref.userId), key: ref.key };
        return;
      case 'committed':
        throw new AppError(
          409,
          'idempotency_outcome_lost',
          'the first request with this Idempotency-Key committed, but the server stopped before recording its response; it will not run again (read the resource instead)',
        );
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
