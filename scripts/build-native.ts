// Builds procview's small native programs with the machine's C compiler into dist/native/.
// Each is single-purpose; its source says why it exists.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { HOOK_CLIENT, NATIVE_DIR, NSMOUNT_HELPER, PACKAGE_ROOT, PEERCRED_HELPER } from "../core/paths.js";
import { exitWithError } from "../core/errors.js";

const PROGRAMS: Array<[source: string, output: string]> = [
  [path.join(PACKAGE_ROOT, "fuse", "native", "procview-nsmount.c"), NSMOUNT_HELPER],
  [path.join(PACKAGE_ROOT, "hook", "native", "procview-hook.c"), HOOK_CLIENT],
  [path.join(PACKAGE_ROOT, "hook", "native", "procview-peercred.c"), PEERCRED_HELPER],
];

async function main(): Promise<void> {
  mkdirSync(NATIVE_DIR, { recursive: true });
  for (const [source, output] of PROGRAMS) {
    const result = await execa("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", output, source], { reject: false });
    if (result.exitCode !== 0) {
      const reason = result.failed && result.exitCode === undefined ? "no C compiler (cc) found: install gcc" : result.stderr;
      throw new Error(`building ${path.relative(PACKAGE_ROOT, output)} failed: ${reason}`);
    }
    process.stdout.write(`built ${path.relative(PACKAGE_ROOT, output)}\n`);
  }
}

main().catch((err: unknown) => exitWithError("build-native", err));
