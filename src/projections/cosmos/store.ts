import type { Agent } from 'node:http';
import { type ContainerDefinition, CosmosClient, type Database } from '@azure/cosmos';
import type { ContainerDef, ProjectionContainer, ProjectionStore, StoreObserver } from '../port.ts';
import { ProjectionError } from '../port.ts';
import { lookupContainer } from '../registry.ts';
import { CosmosContainer } from './container.ts';
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
  const client = new CosmosClient({
    endpoint: o.endpoint,
    key: o.key,
    ...(o.agent ? { agent: o.agent } : {}),
    connectionPolicy: {
      enableEndpointDiscovery: o.endpointDiscovery ?? true,
      // Throttling (429): the SDK waits the server's retry-after; after this it surfaces 'throttled'.
      retryOptions: {
        maxRetryAttemptCount: 9,
        fixedRetryIntervalInMilliseconds: 0,
        maxWaitTimeInSeconds: 30,
      },
    },
  });
  const database: Database = client.database(o.database);
  const containers = new Map(
    defs.map((def) => [
      def.name,
      new CosmosContainer(def, database.container(def.name), o.observer),
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
            await database.container(def.name).replace(definitionOf(def));
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
