#!/usr/bin/env node
// Stand-alone entry for the NRI plugin and its installer: what the launcher in
// /opt/nri/plugins runs, and what the tests run. Same commands as
// `procview nri`, `procview install containerd` and `procview uninstall`.
import { Command } from 'commander';
import { registerInstallCommands } from '../../install/cli.js';
import { registerNriCommands } from './cli.js';

const program = new Command('procview').showHelpAfterError();
registerInstallCommands(program);
registerNriCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`procview: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
