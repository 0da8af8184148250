// Load averages per container key. The server owns the 5-second timer and decides which keys to
// sample; this keeps the fixed-point state and does the counting.
import { existsSync } from "node:fs";
import type { LoadNumbers } from "../cgroup/types.js";
import type { CgroupLayout } from "../cgroup/layout.js";
import type { CgroupPaths } from "../cgroup/caller.js";
import { cgroupDir } from "../cgroup/read.js";
import { countActiveTasks, taskHierarchy } from "../cgroup/tasks.js";
import { ZERO_LOADS, stepLoads, toLoadNumbers, type FixedLoads } from "./decay.js";

export interface SampleTarget {
  key: string;
  paths: CgroupPaths;
}

export interface SampleRoots {
  layout: CgroupLayout;
  procRoot?: string;
}

export class LoadSampler {
  private readonly loads = new Map<string, FixedLoads>();
  /** Paths last sampled per key, so vanished cgroups can be dropped without the caller's help. */
  private readonly paths = new Map<string, CgroupPaths>();

  /** One calc_load step for `key` with `activeTasks` (R + D) tasks. */
  sample(key: string, activeTasks: number): void {
    this.loads.set(key, stepLoads(this.loads.get(key) ?? ZERO_LOADS, activeTasks));
  }

  forget(key: string): void {
    this.loads.delete(key);
    this.paths.delete(key);
  }

  /** Decimal loads; zeros for a key never sampled. */
  get(key: string): LoadNumbers {
    return toLoadNumbers(this.loads.get(key) ?? ZERO_LOADS);
  }

  /** Raw fixed-point state (e.g. to copy into shared memory). */
  getFixed(key: string): FixedLoads {
    return this.loads.get(key) ?? ZERO_LOADS;
  }

  keys(): string[] {
    return [...this.loads.keys()];
  }

  /**
   * Counts R + D tasks of each target's cgroup tree and steps it. A target whose cgroup is gone
   * is forgotten instead. Returns the keys forgotten that way.
   */
  sampleCgroups(targets: Iterable<SampleTarget>, roots: SampleRoots): string[] {
    const gone: string[] = [];
    for (const { key, paths } of targets) {
      const active = countActiveTasks(roots.layout, paths, roots.procRoot ?? "/proc");
      if (active === null) {
        this.forget(key);
        gone.push(key);
        continue;
      }
      this.paths.set(key, paths);
      this.sample(key, active);
    }
    return gone;
  }

  /** Drops keys (sampled through sampleCgroups) whose cgroup directory no longer exists; returns them. */
  forgetVanished(layout: CgroupLayout): string[] {
    const gone: string[] = [];
    for (const [key, paths] of this.paths) {
      const where = taskHierarchy(layout, paths);
      if (where !== null && !existsSync(cgroupDir(where.mount.dir, where.path))) gone.push(key);
    }
    for (const key of gone) this.forget(key);
    return gone;
  }
}
