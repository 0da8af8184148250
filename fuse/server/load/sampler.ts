// Load averages per container key. The serving process's main thread owns the sampling timer
// (every 5 s) and decides which keys to sample; this keeps the fixed-point state and does the
// counting.
import type { LoadNumbers, TaskNumbers } from "../../cgroup/types.js";
import type { CgroupLayout } from "../../cgroup/layout.js";
import type { CgroupPaths } from "../../cgroup/caller.js";
import { readTaskNumbers } from "../../cgroup/tasks.js";
import { readOrAncestor } from "../../cgroup/ancestors.js";
import { ZERO_LOADS, stepLoads, toLoadNumbers, type FixedLoads } from "./decay.js";

export interface SampleTarget {
  key: string;
  paths: CgroupPaths;
}

export interface SampleRoots {
  layout: CgroupLayout;
  procRoot?: string;
  /** Told of a count that failed unexpectedly (the nearest ancestor's tasks are counted instead). */
  onError?: (err: unknown, failed: CgroupPaths, key: string) => void;
}

/** A container's tasks, or the nearest ancestor's when its own cannot be counted. null: its
 * cgroup is gone. undefined: not even an ancestor below the root could be counted. */
export function countTasks(roots: SampleRoots, key: string, paths: CgroupPaths): TaskNumbers | null | undefined {
  return readOrAncestor(
    paths,
    (at) => readTaskNumbers(roots.layout, at, roots.procRoot ?? "/proc"),
    (err, failed) => roots.onError?.(err, failed, key),
  );
}

export class LoadSampler {
  private readonly loads = new Map<string, FixedLoads>();

  /** One calc_load step for `key` with `activeTasks` (R + D) tasks. */
  sample(key: string, activeTasks: number): void {
    this.loads.set(key, stepLoads(this.loads.get(key) ?? ZERO_LOADS, activeTasks));
  }

  forget(key: string): void {
    this.loads.delete(key);
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
   * Counts the tasks of each target's cgroup tree and steps its load with the R + D ones. A
   * target whose cgroup is gone is forgotten instead; one that cannot be counted at all keeps
   * its loads unchanged until the next sample. Returns the counts, for whoever shows them
   * (procs_running, loadavg's running/total), and the keys forgotten.
   */
  sampleCgroups(targets: Iterable<SampleTarget>, roots: SampleRoots): { tasks: Map<string, TaskNumbers>; gone: string[] } {
    const tasks = new Map<string, TaskNumbers>();
    const gone: string[] = [];
    for (const { key, paths } of targets) {
      const counted = countTasks(roots, key, paths);
      if (counted === undefined) continue;
      if (counted === null) {
        this.forget(key);
        gone.push(key);
        continue;
      }
      tasks.set(key, counted);
      this.sample(key, counted.running + counted.blocked);
    }
    return { tasks, gone };
  }
}
