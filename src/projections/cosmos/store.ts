import type { Agent } from 'node:http';
import {
  type ContainerDefinition,
  CosmosClient,
  type CosmosClientOptions,
  type Database,
  type OfferDefinition,
  type OfferResponse,
} from '@azure/cosmos';
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
  /** Azure regions, nearest first (COSMOS_PREFERRED_REGIONS): the SDK reads from the first available. */
  preferredRegions?: string[];
  /** Database-level autoscale maximum shared by containers without their own. */
  sharedAutoscaleMaxThroughput?: number;
}

export interface ThroughputChange {
  /** A container name, or "(database)" for the shared throughput. */
  target: string;
  before: number | null;
  after: number;
}

export interface CosmosProjectionStore extends ProjectionStore {
  readonly kind: 'cosmos';
  /** Replaces each container's indexing policy and TTL with the declared ones. */
  updateIndexes(): Promise<string[]>;
  /** Sets each declared autoscale maximum (containers and shared database) on its offer. */
  updateThroughput(): Promise<ThroughputChange[]>;
}

/** The autoscale maximum must be a multiple of 1000 RU/s from 1000 (Cosmos' rule). */
export function checkAutoscaleMax(what: string, n: number | undefined): void {
  if (n === undefined) return;
  if (!Number.isInteger(n) || n < 1000 || n % 1000 !== 0)
    throw new ProjectionError(
      'bad_request',
      `${what}: autoscaleMaxThroughput must be a multiple of 1000 RU/s, at least 1000 (got ${n})`,
    );
}

/** The SDK client options: keys, deadline, retry policy, and the preferred regions for reads. */
export function cosmosClientOptions(o: CosmosStoreOptions): CosmosClientOptions {
  const timeoutMs = o.timeoutMs ?? DEFAULT_COSMOS_TIMEOUT_MS;
  return {
    // `plugins` is the SDK's (untyped) request hook: it sums every response's charge.
    ...({ plugins: [chargePlugin] } as object),
    endpoint: o.endpoint,
    key: o.key,
    ...(o.agent ? { agent: o.agent } : {}),
    connectionPolicy: {
      enableEndpointDiscovery: o.endpointDiscovery ?? true,
      // One HTTP request may take the whole deadline; the call's deadline (CosmosContainer) caps the rest.
      requestTimeout: timeoutMs,
      // Reads go to the first of these the account has (writes always to the write region);
      // when one becomes unavailable the SDK moves to the next.
      ...(o.preferredRegions?.length ? { preferredLocations: o.preferredRegions } : {}),
      // Throttling (429): the SDK waits the server's retry-after, for at most half the
      // deadline in all; after that the call fails 'throttled' (and the caller backs off).
      retryOptions: {
        maxRetryAttemptCount: 9,
        fixedRetryIntervalInMilliseconds: 0,
        maxWaitTimeInSeconds: Math.max(1, Math.floor(timeoutMs / 2000)),
      },
    },
  };
}

const definitionOf = (def: ContainerDef): ContainerDefinition => ({
  id: def.name,
  partitionKey: { paths: [def.partitionKey] },
  ...(def.defaultTtl === undefined ? {} : { defaultTtl: def.defaultTtl }),
  indexingPolicy: def.indexingPolicy,
  ...(def.autoscaleMaxThroughput ? { maxThroughput: def.autoscaleMaxThroughput } : {}),
});

/** The Cosmos DB projection store. Does not create anything until provision() is called. */
export async function createCosmosStore(o: CosmosStoreOptions): Promise<CosmosProjectionStore> {
  const defs = o.definitions;
  const timeoutMs = o.timeoutMs ?? DEFAULT_COSMOS_TIMEOUT_MS;
  const shared = o.sharedAutoscaleMaxThroughput;
  checkAutoscaleMax('shared database throughput', shared);
  for (const def of defs) checkAutoscaleMax(def.name, def.autoscaleMaxThroughput);
  const client = new CosmosClient(cosmosClientOptions(o));
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
        // Autoscale is set at creation (x-ms-cosmos-offer-autopilot-settings); existing
        // containers keep theirs until `asora cosmos update-throughput`.
        await client.databases.createIfNotExists({
          id: o.database,
          ...(shared ? { maxThroughput: shared } : {}),
        });
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
    async updateThroughput() {
      const out: ThroughputChange[] = [];
      const targets: { target: string; max: number; offer: () => Promise<OfferResponse> }[] = [
        ...(shared
          ? [{ target: '(database)', max: shared, offer: () => database.readOffer() }]
          : []),
        ...defs.flatMap((def) =>
          def.autoscaleMaxThroughput
            ? [
                {
                  target: def.name,
                  max: def.autoscaleMaxThroughput,
                  offer: () => database.container(def.name).readOffer(),
                },
              ]
            : [],
        ),
      ];
      try {
        for (const t of targets) {
          const { resource } = await t.offer();
          if (!resource)
            throw new ProjectionError(
              'not_found',
              `${t.target}: no throughput offer (provisioned without dedicated throughput; recreate it or run cosmos provision on a new database)`,
            );
          const auto = resource.content?.offerAutopilotSettings;
          const before = auto?.maxThroughput ?? resource.content?.offerThroughput ?? null;
          if (before !== t.max || !auto) {
            // Switching manual → autoscale is a portal/CLI migration; the offer replace only changes the autoscale maximum.
            await client.offer(resource.id).replace({
              ...resource,
              content: {
                ...resource.content,
                offerAutopilotSettings: { ...auto, maxThroughput: t.max },
              } as OfferDefinition['content'],
            });
          }
          out.push({ target: t.target, before, after: t.max });
        }
      } catch (err) {
        throw cosmosError(err, 'update-throughput');
      }
      return out;
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
