#!/usr/bin/env node
// The `procview` command: every subcommand registers itself from the folder that owns it.
import { Command } from "commander";
import { runProgram } from "./run.js";
import { registerServeCommand } from "./serve.js";
import { registerStatusCommands } from "./status.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerHookCommands } from "../hook/cli.js";
import { registerInstallCommands } from "../install/cli.js";
import { registerNriCommand } from "../nri/cli.js";

const program = new Command("procview")
  .description("per-container /proc and /sys views over FUSE, injected into containers by an OCI hook")
  .showHelpAfterError();
registerServeCommand(program);
registerStatusCommands(program);
registerDoctorCommand(program);
registerHookCommands(program);
registerInstallCommands(program);
registerNriCommand(program);

await runProgram(program);
