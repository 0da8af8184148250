// Runs a commander program the way every procview entry point does: a failure is one line a
// person can act on and exit 1; the stack only with PROCVIEW_DEBUG.
import type { Command } from "commander";

export async function runProgram(program: Command, argv: string[] = process.argv): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.stderr.write(`procview: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.PROCVIEW_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(1);
  }
}
