// Runs a commander program the way every procview entry point does: a failure is one line a
// person can act on and exit 1 (core/errors.ts).
import type { Command } from "commander";
import { exitWithError } from "../core/errors.js";

export async function runProgram(program: Command, argv: string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    exitWithError(program.name(), err);
  }
}
