// The main thread's side of the load averages and task counts: which containers are sampled, in
// which slot of the shared table, and the 5-second sampling itself. Counting a container's
// tasks reads every task's state, so it is done here, once per 5 s, and never on a read.
import type { CgroupPaths } from "../../cgroup/caller.js";
import { detectLayout } from "../../cgroup/layout.js";
import { keyOf } from "../../cgroup/caller.js";
import type { TaskNumbers } from "../../cgroup/types.js";
import { LoadSampler, countTasks, type SampleRoots } from "./sampler.js";
import { describeProblem, OnceLog } from "../problems.js";
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
  private readonly roots: SampleRoots;
  private nextId = 1;

  /** `problems` logs each unexpected read failure once (shared with what the serving threads report). */
  constructor(
    options: RenderOptions,
    private readonly table: LoadTable,
    slots: number,
    private readonly broadcast: (message: MainThreadMessage) => void,
    private readonly log: (line: string) => void,
    problems: OnceLog = new OnceLog(log),
  ) {
    this.roots = {
      layout: detectLayout(options.cgroupRoot),
      procRoot: options.procRoot,
      onError: (err, failed) => problems.report(describeProblem("counting tasks (the nearest ancestor's are counted)", keyOf(failed), err)),
    };
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
    const entry: Tracked = { slot, id: this.nextId++, paths, tasks: countTasks(this.roots, key, paths) ?? null };
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
    const { tasks, gone } = this.sampler.sampleCgroups(targets, this.roots);
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

  private publish(key: string, entry: Tracked): void {
    this.table.write(entry.slot, entry.id, { loads: this.sampler.getFixed(key), tasks: entry.tasks });
  }
}
