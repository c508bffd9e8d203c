import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). One root logger per process; children add bindings.
 * `toStderr` keeps stdout for a command's own output (runbooks print tables and JSON).
 */
export function createLogger(
  level: string,
  bindings: Record<string, unknown> = {},
  opts: { toStderr?: boolean } = {},
): Logger {
  const options = { level, base: { service: 'asora', ...bindings } };
  return opts.toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/** A logger that writes nothing (tests, CLI internals). */
export const silentLogger: Logger = pino({ level: 'silent' });
