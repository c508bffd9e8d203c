import { AsyncLocalStorage } from 'node:async_hooks';
import type {
  ProjectionContainer,
  ProjectionStore,
  Query,
  ReadOptions,
  Sessioned,
} from './port.ts';

/**
 * Read-your-writes across processes. A caller's session is the session tokens of its
 * writes, per container (a Cosmos token is only valid for the container that issued it).
 * `sessionScoped(store)` fills the token of the current session into every read and
 * records the token of every write, so code above the port passes nothing: whoever serves
 * a caller (an API instance, a worker applying the caller's event) runs its calls inside
 * `inSession(session, fn)`, with the session carried from wherever the caller wrote.
 * The tokens are opaque here; only their per-range merge knows Cosmos's shape.
 */
export class ReadSession {
  private readonly tokens = new Map<string, string>();
  /** Whether a write added to the session since it was created (the caller should get it back). */
  changed = false;

  constructor(tokens: Record<string, string> = {}) {
    for (const [container, token] of Object.entries(tokens)) this.tokens.set(container, token);
  }

  tokenFor(container: string): string | undefined {
    return this.tokens.get(container);
  }

  note(container: string, token: string | undefined): void {
    if (!token) return;
    const merged = mergeSessionTokens(this.tokens.get(container), token);
    if (merged === this.tokens.get(container)) return;
    this.tokens.set(container, merged);
    this.changed = true;
  }

  toJSON(): Record<string, string> {
    return Object.fromEntries(this.tokens);
  }

  get empty(): boolean {
    return this.tokens.size === 0;
  }
}

/** At most this many partition ranges per container are kept (a session is a header). */
const MAX_RANGES = 32;

const globalLsn = (token: string): number => Number(/#(\d+)/.exec(token)?.[1] ?? -1);

/**
 * Cosmos session tokens are `range:version#globalLsn[#region=lsn…]`, comma-separated per
 * partition-key range; for each range the more recent (higher global LSN) one is kept.
 */
export function mergeSessionTokens(a: string | undefined, b: string): string {
  const ranges = new Map<string, string>();
  for (const part of [...(a ?? '').split(','), ...b.split(',')]) {
    const at = part.indexOf(':');
    if (at <= 0) continue;
    const range = part.slice(0, at);
    const prev = ranges.get(range);
    if (prev === undefined || globalLsn(part) >= globalLsn(prev)) {
      ranges.delete(range); // re-inserted last: the most recently written ranges are kept
      ranges.set(range, part);
    }
  }
  return [...ranges.values()].slice(-MAX_RANGES).join(',');
}

const scope = new AsyncLocalStorage<ReadSession>();

/** Runs fn with `session` as the current session of every sessionScoped store call in it. */
export const inSession = <T>(session: ReadSession, fn: () => T): T => scope.run(session, fn);

export const currentSession = (): ReadSession | undefined => scope.getStore();

const WRITES = ['upsert', 'create', 'patch', 'delete'] as const;

/** The store, with the current session's tokens on every read and every write's token noted. */
export function sessionScoped<S extends ProjectionStore>(store: S): S {
  const containers = new Map<string, ProjectionContainer>();
  const wrap = (inner: ProjectionContainer): ProjectionContainer => {
    const name = inner.def.name;
    const token = (given: string | undefined) => given ?? currentSession()?.tokenFor(name);
    const c = Object.create(inner) as ProjectionContainer;
    c.read = (id, pk, opts?: ReadOptions) =>
      inner.read(id, pk, { ...opts, sessionToken: token(opts?.sessionToken) });
    c.readMany = (keys, opts?: ReadOptions) =>
      inner.readMany(keys, { ...opts, sessionToken: token(opts?.sessionToken) });
    c.query = (q: Query) => inner.query({ ...q, sessionToken: token(q?.sessionToken) });
    for (const m of WRITES) {
      const method = inner[m] as (...args: unknown[]) => Promise<Sessioned>;
      (c as unknown as Record<string, unknown>)[m] = async (...args: unknown[]) => {
        const r = await method.apply(inner, args);
        currentSession()?.note(name, r.sessionToken);
        return r;
      };
    }
    return c;
  };
  const scoped = Object.create(store) as S;
  scoped.container = (name: string): ProjectionContainer => {
    let c = containers.get(name);
    if (!c) {
      c = wrap(store.container(name));
      containers.set(name, c);
    }
    return c;
  };
  return scoped;
}
