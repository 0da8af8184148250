// The views of the kernel's statistics beyond LXCFS's set: pressure (PSI) from the container's
// cgroup2 cgroup, vmstat from its memory cgroup and block I/O, slabinfo from cgroup v1's kmem
// accounting. null = nothing of the container's to show: the caller serves the host's file.
import type { Caller } from "../cgroup/caller.js";
import type { CgroupLayout } from "../cgroup/layout.js";
import { readPressureNumbers, type PressureResource } from "../cgroup/pressure.js";
import { readKmemSlabinfo } from "../cgroup/slabinfo.js";
import { readVmstatNumbers } from "../cgroup/vmstat.js";
import { renderPressure, renderVmstat } from "../views/index.js";
import type { ContainerNumbers } from "./container-numbers.js";
import { meminfoBytes, type HostFiles } from "./host-files.js";
import type { PageSizes } from "./page-sizes.js";

export type KernelStatsView = "pressure-cpu" | "pressure-memory" | "pressure-io" | "vmstat" | "slabinfo";

const RESOURCE: Record<Exclude<KernelStatsView, "vmstat" | "slabinfo">, PressureResource> = {
  "pressure-cpu": "cpu",
  "pressure-memory": "memory",
  "pressure-io": "io",
};

export interface KernelStatsContext {
  layout: CgroupLayout;
  host: HostFiles;
  numbers: ContainerNumbers;
  pages: PageSizes;
}

export function createKernelStatsRenderer(ctx: KernelStatsContext): (view: KernelStatsView, caller: Caller, now: number) => string | null {
  const { layout, host, numbers, pages } = ctx;
  return (view, caller, now) => {
    switch (view) {
      case "vmstat": {
        const memory = numbers.memory(caller, now);
        const counters = memory && readVmstatNumbers(layout, caller.paths);
        if (!memory || !counters) return null;
        const devices = numbers.io(caller, now);
        return renderVmstat(host.read("vmstat", now), {
          memoryStat: counters.memoryStat,
          memory,
          hostMemTotalBytes: meminfoBytes(host.read("meminfo", now), "MemTotal"),
          oomKills: counters.oomKills,
          io: devices && {
            readBytes: devices.reduce((sum, d) => sum + d.readBytes, 0),
            writeBytes: devices.reduce((sum, d) => sum + d.writeBytes, 0),
          },
          ...pages,
        });
      }
      case "slabinfo":
        return readKmemSlabinfo(layout, caller.paths);
      default: {
        const pressure = readPressureNumbers(layout, caller.unified, RESOURCE[view]);
        return pressure && renderPressure(pressure);
      }
    }
  };
}
