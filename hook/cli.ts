// `procview hook`: the same code as the bundled procview-hook bin.
import { Command } from "commander";
import { addHookOptions } from "./command.js";

export function registerHookCommands(program: Command): void {
  addHookOptions(program.command("hook"));
}
