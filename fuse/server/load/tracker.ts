// The main thread's side of the load averages and task counts: which containers are sampled, in
// which slot of the shared table, and the 5-second sampling itself. Counting a container's
// tasks reads every task's state, so it is done here, once per 5 s, and never on a read.
import type { CgroupPaths } from "../../cgroup/caller.js";
import { detectLayout, type CgroupLayout } from "../../cgroup/layout.js";
import { readTaskNumbers } from "../../cgroup/tasks.js";
import type { TaskNumbers } from "../../cgroup/types.js";
import { LoadSampler } from "./sampler.js";
import type { LoadTable } from "./table.js";
import type { RenderOptions, MainThreadMessage } from "../worker-protocol.js";

interface Tracked {
  slot: number;
  id: number;
  paths: CgroupPaths;
  tasks: TaskNumbers | null;
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
    private readonly broadcast: (message: MainThreadMessage) => void,
    private readonly log: (line: string) => void,
  ) {
    this.layout = detectLayout(options.cgroupRoot);
    this.freeSlots = Array.from({ length: slots }, (_, i) => slots - 1 - i);
  }

  /** Starts sampling a container the first time any thread serves it; its tasks are counted at once. */
  track(key: string, paths: CgroupPaths): void {
    if (this.tracked.has(key)) return;
    const slot = this.freeSlots.pop();
    if (slot === undefined) {
      this.log(`load: every slot is taken; ${key} shows no load average`);
      return;
    }
    const entry: Tracked = { slot, id: this.nextId++, paths, tasks: this.count(paths) };
    this.tracked.set(key, entry);
    this.publish(key, entry);
    this.broadcast({ type: "slot", key, slot, id: entry.id });
  }

  /** Every slot assignment, for a serving thread that starts later. */
  assignments(): MainThreadMessage[] {
    return [...this.tracked].map(([key, { slot, id }]) => ({ type: "slot", key, slot, id }));
  }

  /** One 5-second step: count each container's tasks, decay its loads, publish; drop the gone. */
  sampleAll(): void {
    const targets = [...this.tracked].map(([key, { paths }]) => ({ key, paths }));
    const { tasks, gone } = this.sampler.sampleCgroups(targets, { layout: this.layout, procRoot: this.options.procRoot });
    for (const key of gone) {
      const entry = this.tracked.get(key)!;
      this.tracked.delete(key);
      this.table.release(entry.slot);
      this.freeSlots.push(entry.slot);
    }
    for (const [key, entry] of this.tracked) {
      entry.tasks = tasks.get(key) ?? entry.tasks;
      this.publish(key, entry);
    }
  }

  get size(): number {
    return this.tracked.size;
  }

  private count(paths: CgroupPaths): TaskNumbers | null {
    return readTaskNumbers(this.layout, paths, this.options.procRoot);
  }

  private publish(key: string, entry: Tracked): void {
    this.table.write(entry.slot, entry.id, { loads: this.sampler.getFixed(key), tasks: entry.tasks });
  }
}
