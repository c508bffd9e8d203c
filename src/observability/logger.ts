import { type Logger, pino } from 'pino';

export type { Logger };

/** Structured JSON logs (pino). One root logger per process; children add bindings. */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { service: 'asora', ...bindings } });
}

/** A logger that writes nothing (tests, CLI internals). */
export const silentLogger: Logger = pino({ level: 'silent' });
