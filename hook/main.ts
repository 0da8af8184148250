// Entry point of the bundled dist/procview-hook.mjs that runtimes execute.
import { Command } from 'commander';
import { addHookOptions } from './command.js';

const program = addHookOptions(new Command('procview-hook'));
program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`procview-hook: ${(err as Error).message}\n`);
  process.exit(1);
});
