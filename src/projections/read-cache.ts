import type {
  BulkOp,
  Doc,
  ProjectionContainer,
  ProjectionStore,
  QueryPage,
  ReadOptions,
  Stored,
} from './port.ts';

export interface ReadCacheOptions {
  /** Containers whose readMany is served from memory. */
  containers: readonly string[];
  /** How long a document read may be served again; 0 turns the cache off. */
  ttlMs: number;
  /** Documents kept at most (oldest dropped first). */
  maxEntries: number;
}

interface Entry {
  doc: Stored;
  at: number;
}

const keyOf = (partitionKey: string, id: string) => `${partitionKey}\u0000${id}`;

/** The keys a write touches, or null when its input is too malformed to name them. */
function keysOrNull(fn: () => string[]): string[] | null {
  try {
    return fn();
  } catch {
    return null;
  }
}

/**
 * A short-lived memory of documents read by `readMany` (hydration: the posts a feed page
 * shows). A page read by many readers within `ttlMs` costs one store round trip instead of
 * two, and on Cosmos DB no point reads at all. Every write made through either view of the
 * same cache drops the written keys, so this process reads its own writes; a write from
 * another process shows after at most `ttlMs`, the same order as the projection's own lag.
 * A readMany that overlapped any write to its container does not fill the cache, so an older
 * document read before a write cannot outlive it. `read` is never cached (callers use it for
 * etag-guarded read-modify-write).
 */
export class ReadCache {
  private readonly entries = new Map<string, Entry>();
  /** Writes per container so far: a readMany fills the cache only if none overlapped it. */
  private readonly writes = new Map<string, number>();

  constructor(private readonly opts: ReadCacheOptions) {}

  /** The store whose cached containers serve `readMany` from memory; writes invalidate. */
  reading<S extends ProjectionStore>(store: S): S {
    return this.view(store, true);
  }

  /** The store as is for reads (pipelines, runbooks), with its writes invalidating the cache. */
  writing<S extends ProjectionStore>(store: S): S {
    return this.view(store, false);
  }

  private view<S extends ProjectionStore>(store: S, cachedReads: boolean): S {
    if (this.opts.ttlMs <= 0) return store;
    const wrapped = new Map<string, ProjectionContainer>();
    const view = Object.create(store) as S;
    view.container = (name: string) => {
      if (!this.opts.containers.includes(name)) return store.container(name);
      let c = wrapped.get(name);
      if (!c) {
        c = this.wrap(store.container(name), cachedReads);
        wrapped.set(name, c);
      }
      return c;
    };
    return view;
  }

  private wrap(inner: ProjectionContainer, cachedReads: boolean): ProjectionContainer {
    const name = inner.def.name;
    const c = Object.create(inner) as ProjectionContainer;
    const written = async <R>(keys: string[], write: Promise<R>): Promise<R> => {
      this.noteWrite(name, keys);
      try {
        return await write;
      } finally {
        // Again once it landed: a readMany that began before the write may have refilled a key.
        this.noteWrite(name, keys);
      }
    };
    c.upsert = (doc, opts) =>
      written([keyOf(inner.partitionKeyOf(doc), doc.id)], inner.upsert(doc, opts));
    c.create = (doc) => written([keyOf(inner.partitionKeyOf(doc), doc.id)], inner.create(doc));
    c.delete = (id, pk, opts) => written([keyOf(pk, id)], inner.delete(id, pk, opts));
    c.patch = (id, pk, ops, opts) => written([keyOf(pk, id)], inner.patch(id, pk, ops, opts));
    // Bad input has no keys to drop: the store refuses it (bad_request) and writes nothing.
    c.bulk = async (ops, opts) => {
      const keys = keysOrNull(() =>
        ops.map((o: BulkOp) =>
          o.op === 'upsert'
            ? keyOf(inner.partitionKeyOf(o.doc), o.doc.id)
            : keyOf(o.partitionKey, o.id),
        ),
      );
      return keys ? written(keys, inner.bulk(ops, opts)) : inner.bulk(ops, opts);
    };
    c.upsertCopies = async (sets, opts) => {
      const keys = keysOrNull(() =>
        sets.flatMap((s) => s.targets.map((t) => keyOf(t.partitionKey, t.id))),
      );
      return keys ? written(keys, inner.upsertCopies(sets, opts)) : inner.upsertCopies(sets, opts);
    };
    if (cachedReads)
      c.readMany = <T extends Doc>(
        keys: { id: string; partitionKey: string }[],
        opts?: ReadOptions,
      ) => this.readMany<T>(inner, keys, opts);
    return c;
  }

  private noteWrite(container: string, keys: string[]): void {
    this.writes.set(container, (this.writes.get(container) ?? 0) + 1);
    for (const k of keys) this.entries.delete(k);
  }

  private async readMany<T extends Doc>(
    inner: ProjectionContainer,
    keys: { id: string; partitionKey: string }[],
    opts?: ReadOptions,
  ): Promise<QueryPage<T>> {
    const now = Date.now();
    const hits = new Map<string, Stored>();
    const misses: { id: string; partitionKey: string }[] = [];
    for (const k of keys) {
      const key = keyOf(k.partitionKey, k.id);
      const e = this.entries.get(key);
      if (e && now - e.at < this.opts.ttlMs) hits.set(key, e.doc);
      else misses.push(k);
    }
    let requestCharge = 0;
    if (misses.length > 0) {
      const before = this.writes.get(inner.def.name) ?? 0;
      // Misses carry the caller's session token; a hit is at most ttlMs old (see above).
      const page = await inner.readMany<T>(misses, opts);
      requestCharge = page.requestCharge;
      const fill = (this.writes.get(inner.def.name) ?? 0) === before;
      for (const d of page.items) {
        const key = keyOf(inner.partitionKeyOf(d), d.id);
        hits.set(key, d);
        if (fill) this.remember(key, d, now);
      }
    }
    // Key order, each document once (as the adapters answer).
    const items: Stored<T>[] = [];
    for (const k of keys) {
      const key = keyOf(k.partitionKey, k.id);
      const d = hits.get(key);
      if (d) {
        items.push(d as Stored<T>);
        hits.delete(key);
      }
    }
    return { items, continuation: null, requestCharge };
  }

  private remember(key: string, doc: Stored, at: number): void {
    this.entries.delete(key);
    this.entries.set(key, { doc, at });
    if (this.entries.size > this.opts.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
