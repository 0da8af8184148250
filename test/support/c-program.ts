// The small C programs the live tests run (test/support/*.c), compiled once per test file.
import { join } from "node:path";
import { execa } from "execa";
import { PACKAGE_ROOT } from "../../core/paths.js";

/** Compiles test/support/`source` to `output` with -O2 -Wall and the `flags` given. */
export async function compileTestProgram(source: string, output: string, flags: string[] = []): Promise<void> {
  await execa("cc", ["-O2", "-Wall", ...flags, "-o", output, join(PACKAGE_ROOT, "test/support", source)]);
}
