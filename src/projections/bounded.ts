import type { CircuitBreaker } from '../observability/circuit-breaker.ts';
import { TimeoutError, withTimeout } from '../observability/timeout.ts';
import {
  isProjectionError,
  type ProjectionContainer,
  ProjectionError,
  type ProjectionStore,
} from './port.ts';

/** An outage, as opposed to an answer (not found, conflict, precondition failed...). */
const isOutage = (err: unknown) =>
  isProjectionError(err, 'unavailable') || isProjectionError(err, 'throttled');

const ASYNC_METHODS = [
  'upsert',
  'create',
  'read',
  'readMany',
  'delete',
  'patch',
  'query',
  'countPerPartition',
  'bulk',
  'upsertCopies',
  'feedRanges',
  'readChanges',
] as const satisfies readonly (keyof ProjectionContainer)[];

/**
 * The projection store with every call bounded, at the port so it holds for any adapter:
 * a call that does not answer within timeoutMs fails with ProjectionError 'unavailable'
 * (the API's 503). With a breaker, an outage opens the circuit: further calls fail at once
 * until the cooldown lets a probe through, and readiness reads the breaker.
 */
export function boundedStore<S extends ProjectionStore>(
  store: S,
  timeoutMs: number,
  breaker?: CircuitBreaker,
): S {
  const bound = <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    const call = async () => {
      try {
        return await withTimeout(fn(), timeoutMs, `projection store ${what}`);
      } catch (err) {
        if (err instanceof TimeoutError) throw new ProjectionError('unavailable', err.message, err);
        throw err;
      }
    };
    if (!breaker) return call();
    return breaker.run(
      call,
      isOutage,
      () =>
        new ProjectionError(
          'unavailable',
          `projection store circuit open after repeated failures (${breaker.reason()})`,
        ),
    );
  };
  const containers = new Map<string, ProjectionContainer>();
  const wrap = (inner: ProjectionContainer): ProjectionContainer => {
    const c = Object.create(inner) as ProjectionContainer;
    for (const m of ASYNC_METHODS) {
      // Looked up per call, so a method replaced on the inner container (a benchmark's
      // counting wrapper) is the one that runs.
      (c as unknown as Record<string, unknown>)[m] = (...args: unknown[]) =>
        bound(`${inner.def.name}.${m}`, () =>
          (inner[m] as (...a: unknown[]) => Promise<unknown>).apply(inner, args),
        );
    }
    return c;
  };
  const bounded = Object.create(store) as S;
  Object.assign(bounded, {
    container(name: string): ProjectionContainer {
      let c = containers.get(name);
      if (!c) {
        c = wrap(store.container(name));
        containers.set(name, c);
      }
      return c;
    },
    ping: () => bound('ping', () => store.ping()),
  });
  return bounded;
}
