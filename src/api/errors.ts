import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyBaseLogger, FastifyError, FastifyInstance } from 'fastify';
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
} from 'fastify-type-provider-zod';
import { sqlState } from '../domain/pg-errors.ts';
import { AppError } from '../errors.ts';
import { TimeoutError } from '../observability/timeout.ts';
import { isProjectionError } from '../projections/port.ts';

interface ErrorReply {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

/** Fastify's own client errors (body parsing, media type, size) by code. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'invalid_input',
};

const UNSTORABLE: ErrorReply = {
  status: 400,
  code: 'invalid_input',
  message: 'value contains a character that cannot be stored',
};

/** SQLSTATEs that mean bad input reached the database (a safety net behind validation). */
const SQL_CLIENT_ERRORS: Record<string, ErrorReply> = {
  '22P02': { status: 400, code: 'invalid_input', message: 'malformed value' },
  // A character the database cannot store (NUL in text; \u0000 in JSON).
  '22021': UNSTORABLE,
  '22P05': UNSTORABLE,
  '22001': { status: 400, code: 'invalid_input', message: 'value too long' },
  '22007': { status: 400, code: 'invalid_input', message: 'malformed date' },
  '22008': { status: 400, code: 'invalid_input', message: 'date out of range' },
  '22023': { status: 400, code: 'invalid_input', message: 'invalid parameter value' },
  '23514': { status: 400, code: 'invalid_input', message: 'value violates a constraint' },
  '23502': { status: 400, code: 'invalid_input', message: 'missing value' },
  '23503': { status: 404, code: 'not_found', message: 'referenced item not found' },
  '23505': { status: 409, code: 'conflict', message: 'already exists' },
  '40001': { status: 503, code: 'retry', message: 'concurrent update; retry' },
  '40P01': { status: 503, code: 'retry', message: 'concurrent update; retry' },
};

const isConnectionLoss = (err: unknown) =>
  err instanceof Error &&
  (/^Connection terminated/.test(err.message) ||
    ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P03'].includes(
      String((err as { code?: unknown }).code),
    ));

export function toErrorReply(err: unknown): ErrorReply | undefined {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as { validationContext?: string }).validationContext ?? 'request';
    return {
      status: 400,
      code: 'invalid_input',
      message: `invalid ${where}`,
      details: err.validation.map((v) => ({
        path: `${where}${v.instancePath.replaceAll('/', '.')}`,
        message: v.message,
      })),
    };
  }
  if (err instanceof AppError)
    return { status: err.status, code: err.code, message: err.message, details: detailsOf(err) };
  if (isProjectionError(err)) {
    if (err.code === 'throttled' || err.code === 'unavailable') {
      return {
        status: 503,
        code: 'unavailable',
        message: 'the projection store is unavailable; retry',
      };
    }
    if (err.code === 'not_found') return { status: 404, code: 'not_found', message: 'not found' };
    // The store refused what it was asked, e.g. a continuation of another query or a value it
    // cannot hold (the embedded store wraps the database's error as the cause).
    if (err.code === 'bad_request') {
      const state = sqlState(err.cause);
      return (
        (state && SQL_CLIENT_ERRORS[state]) || {
          status: 400,
          code: 'invalid_input',
          message: 'invalid cursor or value',
        }
      );
    }
    return undefined;
  }
  // A canonical call past its deadline (or a connection lost mid-call): the outcome of a
  // write is unknown to us, so the client retries, with its Idempotency-Key.
  if (err instanceof TimeoutError || isConnectionLoss(err)) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'the database did not answer in time; retry',
    };
  }
  const state = sqlState(err);
  if (state && SQL_CLIENT_ERRORS[state]) return SQL_CLIENT_ERRORS[state];
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      code: (fe.code && FASTIFY_CODES[fe.code]) ?? 'bad_request',
      message: fe.message ?? 'bad request',
    };
  }
  return undefined;
}

/** `details` is always a list of `{path, message}`; a domain error naming one `field` becomes one entry. */
function detailsOf(err: AppError): ErrorReply['details'] {
  const d = err.details as { field?: unknown } | unknown[] | undefined;
  if (d === undefined || Array.isArray(d)) return d;
  if (typeof d === 'object' && d !== null && typeof d.field === 'string')
    return [{ path: d.field, message: err.message }];
  return undefined;
}

/** Every error leaves as `{"error": {code, message, details}}`; unknown routes are 404s in that shape. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const mapped = toErrorReply(err);
    if (mapped) {
      if (mapped.status >= 500) {
        request.log.warn({ err }, mapped.message);
        // Unavailable is temporary: tell well-behaved clients when to come back.
        if (mapped.status === 503) reply.header('retry-after', '1');
      }
      const error: Record<string, unknown> = { code: mapped.code, message: mapped.message };
      if (mapped.details !== undefined) error.details = mapped.details;
      return reply.status(mapped.status).send({ error });
    }
    request.log.error({ err, serialization: isResponseSerializationError(err) }, 'request failed');
    return reply.status(500).send({ error: { code: 'internal_error', message: 'internal error' } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      error: {
        code: 'not_found',
        message: `no route ${request.method} ${request.url.split('?')[0]}`,
      },
    }),
  );
}

/** Node's HTTP parser errors by code; any other malformed request is a 400 `bad_request`. */
const CONNECTION_ERRORS: Record<string, Omit<ErrorReply, 'details'>> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    message: 'request headers too large',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request_timeout',
    message: 'request not received in time',
  },
};

/**
 * Fastify's `clientErrorHandler`: a request Node could not parse never reaches Fastify's
 * error handler, so its reply is written to the socket here, in the same shape.
 */
export const clientErrorHandler =
  (log: FastifyBaseLogger) =>
  (err: ConnectionError, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, code, message } = CONNECTION_ERRORS[err.code] ?? {
      status: 400,
      code: 'bad_request',
      message: 'malformed HTTP request',
    };
    log.trace({ err }, `client error: ${code}`);
    // As Node does: no reply in the middle of one already being written on this socket.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !inFlight?.headersSent) {
      const body = JSON.stringify({ error: { code, message } });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy(err);
  };
