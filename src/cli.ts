import { Command, CommanderError } from 'commander';
import { ConfigError } from './config/config.ts';
import { AppError } from './errors.ts';
import { registerCosmos } from './ops/cosmos.ts';
import { registerFeed } from './ops/feed.ts';
import { registerMigrate } from './ops/migrate.ts';
import { registerOutbox } from './ops/outbox.ts';
import { registerReconcile } from './ops/reconcile.ts';
import { registerRun } from './ops/run.ts';
import { registerSchema } from './ops/schema.ts';
import { registerSeed } from './ops/seed.ts';
import { registerUsers } from './ops/users.ts';

/**
 * `asora <command>`: one entry point for the platform and its runbooks. Each ops/ file
 * registers its own commands here.
 */
const program = new Command('asora')
  .description(
    'Asora data platform: canonical PostgreSQL, Cosmos DB projections, outbox and change feed',
  )
  .showHelpAfterError()
  .exitOverride();

registerMigrate(program);
registerCosmos(program);
registerSchema(program);
registerUsers(program);
registerOutbox(program);
registerFeed(program);
registerReconcile(program);
registerRun(program);
registerSeed(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ConfigError || err instanceof AppError) {
    console.error(`error: ${err.message}`);
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
  process.exit(1);
}
