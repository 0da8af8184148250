// A loop device over a scratch file: a block device of our own for tests that need real block
// I/O attributed to a cgroup, without touching the machine's disks' settings.
import { rmSync } from "node:fs";
import { truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { uniqueName } from "./cgroups.js";

export interface LoopDevice {
  /** /dev/loopN */
  path: string;
  /** "7:N", as cgroup files name devices. */
  majorMinor: string;
  detach(): Promise<void>;
}

export async function attachLoopDevice(sizeBytes: number): Promise<LoopDevice> {
  const backing = join("/var/tmp", `${uniqueName("procview-loop")}.img`);
  await writeFile(backing, "");
  await truncate(backing, sizeBytes);
  let path: string;
  try {
    path = String((await execa("losetup", ["--find", "--show", backing])).stdout).trim();
  } catch (err) {
    rmSync(backing, { force: true });
    throw err;
  }
  const majorMinor = String((await execa("lsblk", ["-dno", "MAJ:MIN", path])).stdout).trim();
  return {
    path,
    majorMinor,
    async detach() {
      await execa("losetup", ["-d", path], { reject: false });
      rmSync(backing, { force: true });
    },
  };
}
