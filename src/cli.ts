import { setFlagsFromString } from 'node:v8';
import { CommanderError } from 'commander';
import { errorLine } from './errors.ts';
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
  console.error(`error: ${errorLine(err)}`);
  // Loaded only here: the config module brings zod, which `--help` does not need.
  const { stackWanted } = await import('./config/config.ts');
  // A failing database or port is the operator's to fix: the stack is for debugging us.
  if (stackWanted() && err instanceof Error && err.stack) console.error(err.stack);
  process.exit(1);
}
