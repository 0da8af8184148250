// Builds procview's one native helper (fuse/native/procview-nsmount.c) with the machine's C
// compiler into dist/native/. It is small and single-purpose; see the source for why it exists.
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { execa } from "execa";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
export const NSMOUNT_HELPER = path.join(root, "dist", "native", "procview-nsmount");

async function main(): Promise<void> {
  mkdirSync(path.dirname(NSMOUNT_HELPER), { recursive: true });
  const source = path.join(root, "fuse", "native", "procview-nsmount.c");
  const result = await execa("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", NSMOUNT_HELPER, source], { reject: false });
  if (result.exitCode !== 0) {
    const reason = result.failed && result.exitCode === undefined ? "no C compiler (cc) found: install gcc" : result.stderr;
    throw new Error(`building ${path.relative(root, NSMOUNT_HELPER)} failed: ${reason}`);
  }
  process.stdout.write(`built ${path.relative(root, NSMOUNT_HELPER)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build-native: ${(err as Error).message}\n`);
  process.exit(1);
});
