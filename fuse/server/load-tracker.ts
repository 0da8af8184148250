// Service-thread side of the load averages: which containers are sampled, in which slot of the
// shared table, and the 5-second sampling itself.
import type { CgroupPaths } from "../cgroup/caller.js";
import { detectLayout, type CgroupLayout } from "../cgroup/layout.js";
import { LoadSampler } from "../load/sampler.js";
import type { LoadTable } from "./load-table.js";
import type { RenderOptions, ServiceMessage } from "./worker-protocol.js";

interface Tracked {
  slot: number;
  id: number;
  paths: CgroupPaths;
}

export class LoadTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly freeSlots: number[];
  private readonly sampler = new LoadSampler();
  private readonly layout: CgroupLayout;
  private nextId = 1;

  constructor(
    private readonly options: RenderOptions,
    private readonly table: LoadTable,
    slots: number,
    private readonly broadcast: (message: ServiceMessage) => void,
    private readonly log: (line: string) => void,
  ) {
    this.layout = detectLayout(options.cgroupRoot);
    this.freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }

  /** Starts sampling a container the first time any thread serves it. */
  track(key: string, paths: CgroupPaths): void {
    if (this.tracked.has(key)) return;
    const slot = this.freeSlots.pop();
    if (slot === undefined) {
      this.log(`load: every slot is taken; ${key} shows no load average`);
      return;
    }
    const entry = { slot, id: this.nextId++, paths };
    this.tracked.set(key, entry);
    this.table.write(slot, entry.id, this.sampler.getFixed(key));
    this.broadcast({ type: "slot", key, slot, id: entry.id });
  }

  /** Every slot assignment, for a serving thread that starts later. */
  assignments(): ServiceMessage[] {
    return [...this.tracked].map(([key, { slot, id }]) => ({ type: "slot", key, slot, id }));
  }

  sampleAll(): void {
    const targets = [...this.tracked].map(([key, { paths }]) => ({ key, paths }));
    const gone = this.sampler.sampleCgroups(targets, { layout: this.layout, procRoot: this.options.procRoot });
    for (const key of gone) {
      const entry = this.tracked.get(key)!;
      this.tracked.delete(key);
      this.table.release(entry.slot);
      this.freeSlots.push(entry.slot);
    }
    for (const [key, { slot, id }] of this.tracked) this.table.write(slot, id, this.sampler.getFixed(key));
  }

  get size(): number {
    return this.tracked.size;
  }
}
