import { BlobServiceClient, ContainerClient, RestError } from '@azure/storage-blob';
import {
  checkKey,
  checkPrefix,
  OBJECT_STORE_TIMEOUT_MS,
  type ObjectStore,
} from './object-store.ts';

export type BlobTarget = { containerUrl: string } | { connectionString: string; container: string };

const signal = () => AbortSignal.timeout(OBJECT_STORE_TIMEOUT_MS);

/**
 * Cold storage in an Azure Blob Storage container, through @azure/storage-blob: a container
 * URL carrying a SAS token, or a connection string and a container name. The container is
 * created on first use when the credentials allow it.
 */
export function createBlobStore(target: BlobTarget): ObjectStore {
  const container =
    'containerUrl' in target
      ? new ContainerClient(target.containerUrl)
      : BlobServiceClient.fromConnectionString(target.connectionString).getContainerClient(
          target.container,
        );
  let ready: Promise<void> | undefined;
  const ensure = () => {
    ready ??= container
      .createIfNotExists({ abortSignal: signal() })
      .then(() => undefined)
      .catch((err: unknown) => {
        ready = undefined;
        // A SAS scoped to one container may not create it; it then has to exist already.
        if (err instanceof RestError && err.statusCode === 403) return;
        throw err;
      });
    return ready;
  };
  return {
    kind: 'blob',
    location: container.url.split('?')[0] as string,
    async put(key, body) {
      await ensure();
      await container.getBlockBlobClient(checkKey(key)).uploadData(body, {
        abortSignal: signal(),
        blobHTTPHeaders: {
          blobContentType: key.endsWith('.json') ? 'application/json' : 'application/gzip',
        },
      });
    },
    async get(key) {
      try {
        return await container.getBlobClient(checkKey(key)).downloadToBuffer(undefined, undefined, {
          abortSignal: signal(),
        });
      } catch (err) {
        if (err instanceof RestError && err.statusCode === 404) return undefined;
        throw err;
      }
    },
    async list(prefix) {
      await ensure();
      const out: string[] = [];
      for await (const b of container.listBlobsFlat({
        prefix: checkPrefix(prefix),
        abortSignal: signal(),
      }))
        out.push(b.name);
      return out.sort();
    },
    async delete(key) {
      await container.getBlobClient(checkKey(key)).deleteIfExists({ abortSignal: signal() });
    },
  };
}
