import { Command, CommanderError } from 'commander';
import { ConfigError } from './config/config.ts';
import { AppError } from './errors.ts';
import { registerMigrate } from './ops/migrate.ts';

/**
 * `asora <command>`: one entry point for the platform and its runbooks. Each ops/ file
 * registers its own commands here.
 */
const program = new Command('asora')
  .description('Asora data platform: canonical PostgreSQL, Cosmos DB projections, outbox and change feed')
  .showHelpAfterError()
  .exitOverride();

registerMigrate(program);

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
