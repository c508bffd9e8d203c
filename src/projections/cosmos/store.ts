import type { Agent } from 'node:http';
import { type ContainerDefinition, CosmosClient, type Database } from '@azure/cosmos';
import type { ContainerDef, ProjectionContainer, ProjectionStore, StoreObserver } from '../port.ts';
import { ProjectionError } from '../port.ts';
import { lookupContainer } from '../registry.ts';
import { chargePlugin } from './charges.ts';
import { CosmosContainer, DEFAULT_COSMOS_TIMEOUT_MS } from './container.ts';
import { cosmosError } from './errors.ts';

export interface CosmosStoreOptions {
  endpoint: string;
  key: string;
  database: string;
  observer?: StoreObserver;
  /** e.g. an https.Agent that accepts the emulator's self-signed certificate (tests). */
  agent?: Agent;
  /** Turn off for emulators that only listen on the given endpoint. */
  endpointDiscovery?: boolean;
  /** The containers this store holds (the app's, passed in: projections/ knows none). */
  definitions: ContainerDef[];
  /** Deadline of one call, retries and 429 waits included (config COSMOS_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface CosmosProjectionStore extends ProjectionStore {
  readonly kind: 'cosmos';
  /** Replaces each container's indexing policy and TTL with the declared ones. */
  updateIndexes(): Promise<string[]>;
}

const definitionOf = (def: ContainerDef): ContainerDefinition => ({
  id: def.name,
  partitionKey: { paths: [def.partitionKey] },
  ...(def.defaultTtl === undefined ? {} : { defaultTtl: def.defaultTtl }),
  indexingPolicy: def.indexingPolicy,
});

/** The Cosmos DB projection store. Does not create anything until provision() is called. */
export async function createCosmosStore(o: CosmosStoreOptions): Promise<CosmosProjectionStore> {
  const defs = o.definitions;
  const timeoutMs = o.timeoutMs ?? DEFAULT_COSMOS_TIMEOUT_MS;
  const client = new CosmosClient({
    // `plugins` is the SDK's (untyped) request hook: it sums every response's charge.
    ...({ plugins: [chargePlugin] } as object),
    endpoint: o.endpoint,
    key: o.key,
    ...(o.agent ? { agent: o.agent } : {}),
    connectionPolicy: {
      enableEndpointDiscovery: o.endpointDiscovery ?? true,
      // One HTTP request may take the whole deadline; the call's deadline (CosmosContainer) caps the rest.
      requestTimeout: timeoutMs,
      // Throttling (429): the SDK waits the server's retry-after, for at most half the
      // deadline in all; after that the call fails 'throttled' (and the caller backs off).
      retryOptions: {
        maxRetryAttemptCount: 9,
        fixedRetryIntervalInMilliseconds: 0,
        maxWaitTimeInSeconds: Math.max(1, Math.floor(timeoutMs / 2000)),
      },
    },
  });
  const database: Database = client.database(o.database);
  const containers = new Map(
    defs.map((def) => [
      def.name,
      new CosmosContainer(def, database.container(def.name), o.observer, timeoutMs),
    ]),
  );
  return {
    kind: 'cosmos',
    container: (name: string): ProjectionContainer => lookupContainer(containers, name),
    definitions: () => defs,
    async provision() {
      try {
        await client.databases.createIfNotExists({ id: o.database });
        for (const def of defs) await database.containers.createIfNotExists(definitionOf(def));
      } catch (err) {
        throw cosmosError(err, 'provision');
      }
    },
    async updateIndexes() {
      const done: string[] = [];
      try {
        for (const def of defs) {
          const { resource } = await database.container(def.name).read();
          if (!resource) {
            await database.containers.createIfNotExists(definitionOf(def));
          } else {
            const paths = resource.partitionKey?.paths ?? [];
            if (paths[0] !== def.partitionKey) {
              throw new ProjectionError(
                'bad_request',
                `${def.name}: partition key is ${paths.join(',')} in the account but ${def.partitionKey} in containers.json (a partition key cannot change; migrate to a new container)`,
              );
            }
            // Read-modify-write: only the indexing policy and TTL change; the partition key
            // (with its kind and version) and every other property stay as the account has them.
            const {
              _rid,
              _self,
              _etag,
              _ts,
              _docs,
              _sprocs,
              _triggers,
              _udfs,
              _conflicts,
              ...kept
            } = resource as typeof resource & Record<string, unknown>;
            const next: ContainerDefinition = {
              ...kept,
              id: def.name,
              indexingPolicy: def.indexingPolicy,
            };
            if (def.defaultTtl === undefined) delete next.defaultTtl;
            else next.defaultTtl = def.defaultTtl;
            await database
              .container(def.name)
              .replace(next, { accessCondition: { type: 'IfMatch', condition: String(_etag) } });
          }
          done.push(def.name);
        }
      } catch (err) {
        throw cosmosError(err, 'update-indexes');
      }
      return done;
    },
    async ping() {
      try {
        await client.getDatabaseAccount();
      } catch (err) {
        throw new ProjectionError('unavailable', 'Cosmos DB is unreachable', err);
      }
    },
    async close() {
      client.dispose();
    },
  };
}
