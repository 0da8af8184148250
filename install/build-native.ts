// Builds procview's two small native programs with the machine's C compiler into dist/native/:
// the mount helper (fuse/native/procview-nsmount.c) and the hook's client
// (hook/native/procview-hook.c). Each is single-purpose; see its source for why it exists.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { execa } from "execa";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
export const NSMOUNT_HELPER = path.join(root, "dist", "native", "procview-nsmount");
export const HOOK_CLIENT = path.join(root, "dist", "native", "procview-hook");

const PROGRAMS: Array<[source: string, output: string]> = [
  [path.join(root, "fuse", "native", "procview-nsmount.c"), NSMOUNT_HELPER],
  [path.join(root, "hook", "native", "procview-hook.c"), HOOK_CLIENT],
];

async function main(): Promise<void> {
  mkdirSync(path.dirname(NSMOUNT_HELPER), { recursive: true });
  for (const [source, output] of PROGRAMS) {
    const result = await execa("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", output, source], { reject: false });
    if (result.exitCode !== 0) {
      const reason = result.failed && result.exitCode === undefined ? "no C compiler (cc) found: install gcc" : result.stderr;
      throw new Error(`building ${path.relative(root, output)} failed: ${reason}`);
    }
    process.stdout.write(`built ${path.relative(root, output)}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`build-native: ${(err as Error).message}\n`);
  process.exit(1);
});
