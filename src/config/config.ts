import path from 'node:path';
import { z } from 'zod';
import { EMBEDDED_PGLITE_SETTINGS } from '../sql/pglite-settings.ts';

/** Environment → typed config. The only place that reads process.env for settings. */
const optionalUrl = z
  .string()
  .trim()
  .min(1)
  .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL')
  .optional();

/** The login roles of migration 0010. */
export const API_LOGIN = 'asora_api_login';
export const WORKER_LOGIN = 'asora_worker_login';

/** The same server and database as another user (no password unless given: see docs). */
function loginUrl(url: string | undefined, user: string, password = ''): string | undefined {
  if (!url) return undefined;
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password;
  return u.toString();
}

/** The replica as the worker login (the workers are the replica's only readers). */
function replicaAsWorker(readUrl: string | undefined, workerUrl: string | undefined) {
  if (!readUrl || !workerUrl) return undefined;
  const w = new URL(workerUrl);
  return loginUrl(readUrl, decodeURIComponent(w.username), w.password);
}

const AGE_RE = /^\d{1,6}[dh]$/;

const intFrom = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

const envSchema = z.object({
  PORT: intFrom(3000, 0).refine((p) => p <= 65535, 'must be a port number (0-65535)'),
  HOST: z.string().default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: optionalUrl,
  DATABASE_READ_URL: optionalUrl,
  API_DATABASE_URL: optionalUrl,
  WORKER_DATABASE_URL: optionalUrl,
  PROJECTIONS_DATABASE_URL: optionalUrl,
  COSMOS_ENDPOINT: z.string().url().optional(),
  COSMOS_KEY: z.string().min(1).optional(),
  COSMOS_DATABASE: z.string().min(1).default('asora'),
  COSMOS_TIMEOUT_MS: intFrom(15_000, 100),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_POOL_MAX: intFrom(10, 1),
  FEED_RANGES: intFrom(4, 1),
  FANOUT_FOLLOWER_THRESHOLD: intFrom(10_000, 1),
  FEED_CAP: intFrom(800, 1),
  READY_MAX_OUTBOX_BACKLOG: intFrom(10_000, 1),
  CHANGEFEED_POLL_MS: z.coerce.number().int().min(10).optional(),
  PGLITE_SETTINGS: z
    .string()
    .trim()
    .regex(
      /^[a-z_]+=[A-Za-z0-9._-]+(\s*,\s*[a-z_]+=[A-Za-z0-9._-]+)*$/,
      'must be name=value pairs separated by commas, e.g. shared_buffers=64MB,work_mem=8MB',
    )
    .optional(),
  COSMOS_PREFERRED_REGIONS: z.string().optional(),
  ARCHIVE_BLOB_URL: z.string().url().optional(),
  ARCHIVE_BLOB_CONNECTION_STRING: z.string().min(1).optional(),
  ARCHIVE_BLOB_CONTAINER: z
    .string()
    .regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, 'must be a valid blob container name')
    .default('asora-archive'),
  ARCHIVE_INTERVAL_MINUTES: intFrom(0, 0),
  ARCHIVE_POSTS_OLDER_THAN: z
    .string()
    .regex(AGE_RE, 'must be an age such as 365d or 12h')
    .default('365d'),
  ARCHIVE_AUDIT_OLDER_THAN: z
    .string()
    .regex(AGE_RE, 'must be an age such as 90d or 12h')
    .default('90d'),
  ACCESS_TOKEN_TTL_SECONDS: intFrom(24 * 60 * 60, 60),
  OPS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  REDIS_URL: z
    .string()
    .trim()
    .refine((v) => /^rediss?:\/\//.test(v), 'must be a redis:// or rediss:// URL')
    .optional(),
  RATE_LIMIT_MAX: intFrom(600, 1),
  RATE_LIMIT_WINDOW_MS: intFrom(60_000, 1_000),
  AUTH_RATE_LIMIT_IP_MAX: intFrom(30, 1),
  AUTH_RATE_LIMIT_ACCOUNT_MAX: intFrom(10, 1),
  AUTH_RATE_LIMIT_WINDOW_MS: intFrom(15 * 60_000, 1_000),
  API_STORE_TIMEOUT_MS: intFrom(2_000, 50),
  WORKER_STORE_TIMEOUT_MS: intFrom(15_000, 50),
  STORE_BREAKER_FAILURES: intFrom(3, 1),
  STORE_BREAKER_COOLDOWN_MS: intFrom(1_000, 10),
  READ_CACHE_MS: intFrom(1_000, 0),
  READ_CACHE_MAX_DOCS: intFrom(20_000, 1),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  logLevel: Env['LOG_LEVEL'];
  /**
   * url: the owner (migrations, operator commands). The serving process's pools log in as
   * roles that own nothing: apiUrl (API requests) and workerUrl (pipeline, relay, archive;
   * also readUrl's login). Default: url with the user swapped to asora_api_login /
   * asora_worker_login and no password (docs/canonical.md, "Roles").
   */
  canonical: {
    url?: string;
    readUrl?: string;
    apiUrl?: string;
    workerUrl?: string;
    workerReadUrl?: string;
    poolMax: number;
  };
  /** postgresql.conf settings of the embedded PGlite databases (over the embedded defaults). */
  pgliteSettings: Record<string, string>;
  projections:
    | {
        kind: 'cosmos';
        endpoint: string;
        key: string;
        database: string;
        /** Azure regions, nearest first: reads go to the first available, writes to the write region. */
        preferredRegions: string[];
      }
    | { kind: 'embedded'; url?: string; feedRanges: number };
  /** Deadline of one Cosmos DB call, retries and throttling waits included. */
  cosmosTimeoutMs: number;
  jwtSecret?: string;
  /** Access tokens: HS256, this lifetime, `exp` required. */
  tokenTtlSeconds: number;
  /** Guards /metrics and /docs when set. */
  opsToken?: string;
  pipeline: { fanoutFollowerThreshold: number; feedCap: number; changeFeedPollMs: number };
  readiness: { maxOutboxBacklog: number };
  archive: {
    /** Azure Blob Storage when set, else a directory under DATA_DIR. */
    blob?: { containerUrl: string } | { connectionString: string; container: string };
    dir: string;
    /** Minutes between scheduled runs in `work`; 0 = off. */
    intervalMinutes: number;
    postsOlderThan: string;
    auditOlderThan: string;
  };
  /**
   * Deadline of every canonical and projection call: short on the API's request path (a
   * hung store is a fast 503), longer for the workers (batches, scans).
   */
  timeouts: { apiMs: number; workerMs: number };
  /** Abuse limits; counters in Redis when redisUrl is set (shared by every API instance). */
  rateLimits: {
    redisUrl?: string;
    perToken: { max: number; windowMs: number };
    auth: { perIpMax: number; perAccountMax: number; windowMs: number };
  };
  /** Projection-store circuit breaker (fail fast, readiness down) after consecutive outages. */
  breaker: { failureThreshold: number; cooldownMs: number };
  /** The API's memory of hydrated post documents (0 ms = off): see projections/read-cache.ts. */
  readCache: { ttlMs: number; maxEntries: number };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * LOG_LEVEL=debug (or trace): the CLI prints a failure's stack under its one-line message.
 * Read alone, not through loadConfig: the configuration may be what failed.
 */
export const stackWanted = (env: NodeJS.ProcessEnv = process.env): boolean =>
  ['debug', 'trace'].includes(env.LOG_LEVEL?.trim() ?? '');

/** Parses the environment; throws ConfigError naming each bad variable. */
/**
 * `issuesTokens`: the process serves the API, so a server deployment must bring its JWT
 * secret; runbooks and workers issue no token and do not ask for one.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: { issuesTokens?: boolean } = {},
): Config {
  const clean = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ''),
  );
  const parsed = envSchema.safeParse(clean);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.COSMOS_ENDPOINT && !e.COSMOS_KEY) {
    throw new ConfigError(
      'invalid configuration:\n  COSMOS_KEY: required when COSMOS_ENDPOINT is set',
    );
  }
  if (opts.issuesTokens && e.DATABASE_URL && !e.JWT_SECRET) {
    throw new ConfigError(
      'invalid configuration:\n  JWT_SECRET: required when DATABASE_URL is set (a server deployment must not generate its own secret)',
    );
  }
  const cosmos = Boolean(e.COSMOS_ENDPOINT && e.COSMOS_KEY);
  const workerUrl = e.WORKER_DATABASE_URL ?? loginUrl(e.DATABASE_URL, WORKER_LOGIN);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: path.resolve(e.DATA_DIR),
    logLevel: e.LOG_LEVEL,
    canonical: {
      url: e.DATABASE_URL,
      readUrl: e.DATABASE_READ_URL,
      apiUrl: e.API_DATABASE_URL ?? loginUrl(e.DATABASE_URL, API_LOGIN),
      workerUrl,
      workerReadUrl: replicaAsWorker(e.DATABASE_READ_URL, workerUrl),
      poolMax: e.DATABASE_POOL_MAX,
    },
    pgliteSettings: {
      ...EMBEDDED_PGLITE_SETTINGS,
      ...Object.fromEntries(
        (e.PGLITE_SETTINGS ?? '')
          .split(',')
          .filter((kv) => kv.trim() !== '')
          .map((kv) => kv.split('=').map((x) => x.trim()) as [string, string]),
      ),
    },
    projections:
      e.COSMOS_ENDPOINT && e.COSMOS_KEY
        ? {
            kind: 'cosmos',
            endpoint: e.COSMOS_ENDPOINT,
            key: e.COSMOS_KEY,
            database: e.COSMOS_DATABASE,
            preferredRegions: (e.COSMOS_PREFERRED_REGIONS ?? '')
              .split(',')
              .map((r) => r.trim())
              .filter((r) => r.length > 0),
          }
        : { kind: 'embedded', url: e.PROJECTIONS_DATABASE_URL, feedRanges: e.FEED_RANGES },
    cosmosTimeoutMs: e.COSMOS_TIMEOUT_MS,
    jwtSecret: e.JWT_SECRET,
    tokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    opsToken: e.OPS_TOKEN,
    pipeline: {
      fanoutFollowerThreshold: e.FANOUT_FOLLOWER_THRESHOLD,
      feedCap: e.FEED_CAP,
      // An empty poll costs request units on Cosmos (the .NET default, 5 s); on the
      // embedded store it is one indexed query, so it polls every second.
      changeFeedPollMs: e.CHANGEFEED_POLL_MS ?? (cosmos ? 5_000 : 1_000),
    },
    readiness: { maxOutboxBacklog: e.READY_MAX_OUTBOX_BACKLOG },
    archive: {
      blob: e.ARCHIVE_BLOB_URL
        ? { containerUrl: e.ARCHIVE_BLOB_URL }
        : e.ARCHIVE_BLOB_CONNECTION_STRING
          ? {
              connectionString: e.ARCHIVE_BLOB_CONNECTION_STRING,
              container: e.ARCHIVE_BLOB_CONTAINER,
            }
          : undefined,
      dir: path.join(path.resolve(e.DATA_DIR), 'archive'),
      intervalMinutes: e.ARCHIVE_INTERVAL_MINUTES,
      postsOlderThan: e.ARCHIVE_POSTS_OLDER_THAN,
      auditOlderThan: e.ARCHIVE_AUDIT_OLDER_THAN,
    },
    rateLimits: {
      redisUrl: e.REDIS_URL,
      perToken: { max: e.RATE_LIMIT_MAX, windowMs: e.RATE_LIMIT_WINDOW_MS },
      auth: {
        perIpMax: e.AUTH_RATE_LIMIT_IP_MAX,
        perAccountMax: e.AUTH_RATE_LIMIT_ACCOUNT_MAX,
        windowMs: e.AUTH_RATE_LIMIT_WINDOW_MS,
      },
    },
    timeouts: { apiMs: e.API_STORE_TIMEOUT_MS, workerMs: e.WORKER_STORE_TIMEOUT_MS },
    breaker: {
      failureThreshold: e.STORE_BREAKER_FAILURES,
      cooldownMs: e.STORE_BREAKER_COOLDOWN_MS,
    },
    readCache: { ttlMs: e.READ_CACHE_MS, maxEntries: e.READ_CACHE_MAX_DOCS },
  };
}
