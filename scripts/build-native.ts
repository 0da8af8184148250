// Builds procview's small native programs with the machine's C compiler into dist/native/.
// Each is single-purpose; its source says why it exists.
import { mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import {
  EXEC_ADDON,
  FLOCK_ADDON,
  HOOK_CLIENT,
  INVALIDATE_ADDON,
  KEEPER_PROGRAM,
  NATIVE_DIR,
  NSMOUNT_HELPER,
  PACKAGE_ROOT,
  PEERCRED_HELPER,
} from "../core/paths.js";
import { exitWithError } from "../core/errors.js";

const KEEPER_SOURCES = path.join(PACKAGE_ROOT, "fuse", "keeper", "native");
const keeperSources = readdirSync(KEEPER_SOURCES)
  .filter((f) => f.endsWith(".c") && f !== "procview-exec.c")
  .map((f) => path.join(KEEPER_SOURCES, f));

/** Shared objects, with the Node-API declarations they share (core/native/node-api.h). */
const ADDON_FLAGS = ["-shared", "-fPIC", "-I", path.join(PACKAGE_ROOT, "core", "native")];

const PROGRAMS: Array<{ sources: string[]; output: string; flags?: string[] }> = [
  { sources: [path.join(PACKAGE_ROOT, "fuse", "native", "procview-nsmount.c")], output: NSMOUNT_HELPER },
  { sources: [path.join(PACKAGE_ROOT, "hook", "native", "procview-hook.c")], output: HOOK_CLIENT },
  { sources: [path.join(PACKAGE_ROOT, "hook", "native", "procview-peercred.c")], output: PEERCRED_HELPER },
  { sources: keeperSources, output: KEEPER_PROGRAM, flags: ["-pthread"] },
  // Node-API addons: shared objects Node loads with process.dlopen.
  { sources: [path.join(KEEPER_SOURCES, "procview-exec.c")], output: EXEC_ADDON, flags: ADDON_FLAGS },
  { sources: [path.join(PACKAGE_ROOT, "nri", "native", "procview-flock.c")], output: FLOCK_ADDON, flags: ADDON_FLAGS },
  {
    sources: [path.join(PACKAGE_ROOT, "fuse", "server", "native", "procview-invalidate.c")],
    output: INVALIDATE_ADDON,
    flags: [...ADDON_FLAGS, "-pthread"],
  },
];

async function main(): Promise<void> {
  mkdirSync(NATIVE_DIR, { recursive: true });
  for (const { sources, output, flags = [] } of PROGRAMS) {
    const result = await execa("cc", ["-O2", "-Wall", "-Wextra", "-Werror", ...flags, "-o", output, ...sources], { reject: false });
    if (result.exitCode !== 0) {
      const reason = result.failed && result.exitCode === undefined ? "no C compiler (cc) found: install gcc" : result.stderr;
      throw new Error(`building ${path.relative(PACKAGE_ROOT, output)} failed: ${reason}`);
    }
    process.stdout.write(`built ${path.relative(PACKAGE_ROOT, output)}\n`);
  }
}

main().catch((err: unknown) => exitWithError("build-native", err));
