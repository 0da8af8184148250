// The flags of `procview serve` that size the handle store and each tenant's share of it
// (fuse/server/share.ts has the rules). Defaults come from the node.
import { InvalidArgumentError, Option, type Command } from "commander";
import { defaultShareLimits, type ShareLimits } from "../fuse/server/share.js";
import { PAGE_SIZE } from "../fuse/server/handle-store.js";

export interface ShareFlags {
  openFiles: number;
  storeMib: number;
  containerFiles: number;
  containerKib: number;
}

function atLeast(min: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected a whole number of at least ${min}`);
    return n;
  };
}

/** Adds the share flags to `command`, with the node's defaults. */
export function addShareOptions(command: Command): Command {
  const defaults = defaultShareLimits();
  return command
    .addOption(
      new Option("--open-files <n>", "files open at once through procview, every container and the host together")
        .argParser(atLeast(64))
        .default(defaults.handles),
    )
    .addOption(
      new Option(
        "--store-mib <n>",
        "memory for the text of open files, everyone together (default: 1/128 of RAM, 32 to 256 MiB; only what is used is touched)",
      )
        .argParser(atLeast(1))
        .default((defaults.pages * PAGE_SIZE) / (1024 * 1024)),
    )
    .addOption(
      new Option("--container-files <n>", "files one container may hold open at once; beyond, its opens fail with EMFILE")
        .argParser(atLeast(1))
        .default(defaults.containerHandles),
    )
    .addOption(
      new Option("--container-kib <n>", "memory the text of one container's open files may take; beyond, its opens fail with EMFILE")
        .argParser(atLeast(4))
        .default((defaults.containerPages * PAGE_SIZE) / 1024),
    );
}

export function shareLimitsOf(flags: ShareFlags): ShareLimits {
  return {
    handles: flags.openFiles,
    pages: Math.max(64, Math.floor((flags.storeMib * 1024 * 1024) / PAGE_SIZE)),
    containerHandles: flags.containerFiles,
    containerPages: Math.max(1, Math.floor((flags.containerKib * 1024) / PAGE_SIZE)),
  };
}
