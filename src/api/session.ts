import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { inSession, ReadSession } from '../projections/session.ts';

/** The request and response header that carries a client's read-your-writes session. */
export const SESSION_HEADER = 'x-asora-session';

const SIG_LENGTH = 22; // base64url of 128 bits
const MAX_LENGTH = 8_192;

/** What the header's body holds: a session token per container (ReadSession's JSON). */
const sessionTokens = z.record(z.string(), z.string());

declare module 'fastify' {
  interface FastifyRequest {
    readSession?: ReadSession;
  }
}

/**
 * Read-your-writes on any API instance (Cosmos DB session consistency across processes).
 * A response to a request that wrote projections carries `x-asora-session`: the session
 * tokens of the caller's writes, signed (HMAC-SHA256) so only tokens this API issued are
 * honoured. The client sends the last value it got on its next requests; whichever instance
 * serves them runs the request's store calls in that session (projections/session.ts), so
 * its reads wait for a replica that has the writes. A forged or altered header is a 400.
 */
export function installSessions(app: FastifyInstance, secret: string): void {
  const key = createHmac('sha256', secret).update('asora session v1').digest();
  const sign = (body: string) =>
    createHmac('sha256', key).update(body).digest('base64url').slice(0, SIG_LENGTH);

  const parse = (raw: unknown): ReadSession => {
    if (raw === undefined || raw === '') return new ReadSession();
    const given = typeof raw === 'string' && raw.length <= MAX_LENGTH ? raw : '';
    const dot = given.lastIndexOf('.');
    const body = given.slice(0, Math.max(dot, 0));
    const sig = Buffer.from(given.slice(dot + 1));
    const expected = Buffer.from(dot > 0 ? sign(body) : '');
    if (dot > 0 && sig.length === expected.length && timingSafeEqual(sig, expected)) {
      try {
        const json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
        return new ReadSession(sessionTokens.parse(json));
      } catch {
        // Signed, but not a session as this API writes it (say, by another version): refused alike.
      }
    }
    throw new ValidationError(
      `invalid ${SESSION_HEADER}: send back the last value a response gave`,
      { field: SESSION_HEADER },
    );
  };

  app.addHook('onRequest', (request, _reply, done) => {
    let session: ReadSession;
    try {
      session = parse(request.headers[SESSION_HEADER]);
    } catch (err) {
      done(err as Error);
      return;
    }
    request.readSession = session;
    // The rest of the request (hooks, handler) runs in this session.
    inSession(session, () => done());
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const session = request.readSession;
    if (session?.changed && !session.empty) {
      const body = Buffer.from(JSON.stringify(session)).toString('base64url');
      reply.header(SESSION_HEADER, `${body}.${sign(body)}`);
    }
    return payload;
  });
}
