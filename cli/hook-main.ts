// Entry point of the bundled dist/procview-hook.mjs that runtimes execute.
import { Command } from "commander";
import { addHookOptions } from "../hook/command.js";
import { runProgram } from "./run.js";

await runProgram(addHookOptions(new Command("procview-hook")));
