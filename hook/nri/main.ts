#!/usr/bin/env node
// Stand-alone entry for the NRI plugin and its installer: what the launcher in
// /opt/nri/plugins runs, and what the tests run. Same commands as
// `procview nri`, `procview install containerd` and `procview uninstall`.
import { Command } from 'commander';
import { registerInstallCommands } from '../../install/cli.js';
import { registerNriCommands } from './cli.js';
import { runProgram } from '../../cli/run.js';

const program = new Command('procview').showHelpAfterError();
registerInstallCommands(program);
registerNriCommands(program);
await runProgram(program);
