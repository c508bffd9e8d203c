import type { Config } from '../config/config.ts';
import { createBlobStore } from './blob-store.ts';
import { createDirectoryStore } from './directory-store.ts';
import type { ObjectStore } from './object-store.ts';

/** Cold storage from the configuration: Azure Blob when configured, else DATA_DIR/archive. */
export function createObjectStore(config: Pick<Config, 'archive'>): ObjectStore {
  return config.archive.blob
    ? createBlobStore(config.archive.blob)
    : createDirectoryStore(config.archive.dir);
}
