import { setFlagsFromString } from 'node:v8';
import { CommanderError } from 'commander';
import { AppError } from './errors.ts';
import { buildProgram, wantedCommand } from './ops/commands.ts';

/** `asora <command>`: one entry point for the platform and its runbooks (src/ops/commands.ts). */

// A short command would spend seconds of CPU optimising PGlite's WebAssembly (and wait for
// it at exit) for code it runs once: the baseline compiler alone is enough. The servers
// keep the optimising tier.
if (!['start', 'serve', 'work'].includes(wantedCommand(process.argv) ?? '')) {
  setFlagsFromString('--liftoff-only');
}

try {
  const program = await buildProgram(process.argv);
  await program.parseAsync(process.argv);
  // The command has closed what it opened; PGlite's runtime would hold the process ~3 s more.
  process.exit(process.exitCode ?? 0);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  // Loaded only here: the config module brings zod, which `--help` does not need.
  const { ConfigError } = await import('./config/config.ts');
  if (err instanceof ConfigError || err instanceof AppError) {
    console.error(`error: ${err.message}`);
  } else {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  }
  process.exit(1);
}
