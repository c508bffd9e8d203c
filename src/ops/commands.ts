import { Command } from 'commander';

type Register = (program: Command) => void;

/**
 * Every top-level command: its one-line help and the module that registers it. A module is
 * imported only when its command runs (or its own --help is asked for), so `asora --help`
 * loads commander and nothing else. test/ops/cli-lazy.test.ts checks these descriptions
 * against the modules' own; src/cli.ts runs the program.
 */
export const COMMANDS: { names: Record<string, string>; load: () => Promise<Register> }[] = [
  {
    names: {
      migrate:
        'apply pending canonical migrations (database/migrations) to DATABASE_URL or the embedded store',
    },
    load: async () => (await import('./migrate.ts')).registerMigrate,
  },
  {
    names: {
      cosmos:
        'projection store (Cosmos DB when COSMOS_ENDPOINT is set, else the embedded store): provisioning',
    },
    load: async () => (await import('./cosmos.ts')).registerCosmos,
  },
  {
    names: { schema: 'the canonical schema: drift check and target file' },
    load: async () => (await import('./schema.ts')).registerSchema,
  },
  {
    names: { users: 'manage user accounts (runs as the database owner)' },
    load: async () => (await import('./users.ts')).registerUsers,
  },
  {
    names: { outbox: 'inspect and recover the transactional outbox' },
    load: async () => (await import('./outbox.ts')).registerOutbox,
  },
  {
    names: { feed: 'userFeed runbooks' },
    load: async () => (await import('./feed.ts')).registerFeed,
  },
  {
    names: { changefeed: 'change-feed processors: dead letters, backfill, feed ranges' },
    load: async () => (await import('./changefeed.ts')).registerChangefeed,
  },
  {
    names: {
      reconcile:
        'compare projections (posts_v2, userFeed, counters, publicProfiles) with canonical data; --repair fixes drift',
    },
    load: async () => (await import('./reconcile.ts')).registerReconcile,
  },
  {
    names: {
      start:
        'run everything in one process: migrations, API, outbox relay, change-feed processors (npm start)',
      serve: 'run the HTTP API only (scale out: any number of serve and work processes)',
      work: 'run the outbox relay and the change-feed processors only',
    },
    load: async () => (await import('./run.ts')).registerRun,
  },
  {
    names: {
      seed: 'generate a demo social graph (users, follows, posts, reactions), then build the projections',
    },
    load: async () => (await import('./seed.ts')).registerSeed,
  },
  {
    names: {
      archive:
        'move old posts and audit entries to cold storage (Azure Blob or DATA_DIR/archive), or bring a post back',
    },
    load: async () => (await import('./archive.ts')).registerArchive,
  },
];

/** The top-level command argv names (`asora help outbox` asks for outbox's own help). */
export function wantedCommand(argv: readonly string[]): string | undefined {
  const args = argv.slice(2);
  return args[0] === 'help' ? args[1] : args.find((a) => !a.startsWith('-'));
}

/** The program with the command named in argv fully registered and the others as help stubs. */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('asora')
    .description(
      'Asora data platform: canonical PostgreSQL, Cosmos DB projections, outbox and change feed',
    )
    .showHelpAfterError()
    .exitOverride();
  const wanted = wantedCommand(argv);
  for (const entry of COMMANDS) {
    if (wanted !== undefined && wanted in entry.names) (await entry.load())(program);
    else
      for (const [name, description] of Object.entries(entry.names))
        program.command(name).description(description).allowUnknownOption().allowExcessArguments();
  }
  return program;
}
