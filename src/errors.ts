/**
 * Typed application errors. Domain and ops code throw these; the API maps `status` and
 * `code` to the documented error shape, the CLI prints `message` and exits non-zero.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, details?: unknown) {
    super(400, 'invalid_input', message, details);
  }
}
export class UnauthenticatedError extends AppError {
  constructor(message = 'authentication required') {
    super(401, 'unauthenticated', message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'not allowed') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends AppError {
  constructor(message = 'not found') {
    super(404, 'not_found', message);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict') {
    super(409, code, message);
  }
}

/**
 * One line for an operator: the message, an AggregateError's parts (a connection refused on
 * every address of a host has an empty message of its own), and the cause when it adds
 * something (the code and address of a refused connection, say).
 */
export function errorLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let line = err.message;
  if (err instanceof AggregateError) {
    const parts = [...new Set(err.errors.map(errorLine))].join('; ');
    if (parts) line = line ? `${line} (${parts})` : parts;
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (!line) line = typeof code === 'string' ? code : err.name;
  if (err.cause !== undefined) {
    const cause = errorLine(err.cause);
    if (cause && !line.includes(cause)) line = `${line}: ${cause}`;
  }
  return line;
}
