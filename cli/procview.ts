#!/usr/bin/env node
// The `procview` command: every subcommand registers itself from the folder that owns it.
import { Command } from "commander";
import { registerServeCommand } from "./serve.js";
import { registerStatusCommands } from "./status.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerHookCommands } from "../hook/cli.js";
import { registerInstallCommands } from "../install/cli.js";
import { registerNriCommands } from "../hook/nri/cli.js";

const program = new Command("procview")
  .description("per-container /proc and /sys views over FUSE, injected into containers by an OCI hook")
  .showHelpAfterError();
registerServeCommand(program);
registerStatusCommands(program);
registerDoctorCommand(program);
registerHookCommands(program);
registerInstallCommands(program);
// After install: it adds `install containerd` to the install command.
registerNriCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // One line a person can act on; the stack only helps us, and only with PROCVIEW_DEBUG.
  process.stderr.write(`procview: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.PROCVIEW_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
