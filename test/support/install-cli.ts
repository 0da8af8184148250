// The install commands on a bare commander program, exactly as cli/procview.ts
// registers them, so the install tests do not depend on the rest of the CLI.
import { Command } from 'commander';
import { registerHookCommands } from '../../hook/cli.js';
import { registerInstallCommands } from '../../install/cli.js';

const program = new Command('procview');
registerHookCommands(program);
registerInstallCommands(program);
await program.parseAsync(process.argv);
