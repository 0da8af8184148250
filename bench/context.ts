// What every scenario gets: the built reader, the systems to read (each started or not, with
// the reason), the run's bounds, a logger, and a pool of cgroups cleaned up at the end.
import { createCgroup, uniqueName, type CgroupSettings, type TestCgroup } from "../testbed/cgroups.js";
import { notMeasured, oneLine, type Outcome, type SystemName } from "./results.js";
import type { ReadTarget } from "./systems.js";

export interface Settings {
  mode: "quick" | "full";
  /** Timed reads per file and system (latency). */
  latencyCount: number;
  /** Seconds per throughput point. */
  throughputSeconds: number;
  throughputReaders: number[];
  /** Cgroup counts of the scale scenario; the largest is how many are created. */
  scaleCounts: number[];
  /** Timed reads per system at each scale point. */
  scaleReads: number;
  idleSeconds: number;
  /** podman runs with and (as many) without the hook. */
  hookRuns: number;
}

export const FULL: Settings = {
  mode: "full",
  latencyCount: 4000,
  throughputSeconds: 3,
  throughputReaders: [1, 2, 8],
  scaleCounts: [1, 50, 500],
  scaleReads: 5000,
  idleSeconds: 5,
  hookRuns: 20,
};

export const QUICK: Settings = {
  mode: "quick",
  latencyCount: 300,
  throughputSeconds: 1,
  throughputReaders: [1, 2, 8],
  scaleCounts: [1, 50, 500],
  scaleReads: 1000,
  idleSeconds: 3,
  hookRuns: 5,
};

export interface Context {
  reader: string;
  targets: Record<SystemName, Outcome<ReadTarget>>;
  settings: Settings;
  cgroups: CgroupPool;
  log(line: string): void;
}

/** What the scenarios that need no reader and no cgroups (memory, idle CPU, hook) get. */
export type TargetsContext = Pick<Context, "targets" | "settings" | "log">;

/** The target if it is up, else why not (also when it has died since). */
export function usable(ctx: TargetsContext, name: SystemName): Outcome<ReadTarget> {
  const t = ctx.targets[name];
  if (t.ok && !t.value.alive()) return notMeasured(`${name} has exited`);
  return t;
}

/** Cgroups under one per-run parent ("procview-bench-<hex>") in every v1 controller. */
export class CgroupPool {
  readonly parent: string;
  private readonly made: TestCgroup[] = [];

  constructor() {
    this.parent = uniqueName("procview-bench");
    this.made.push(createCgroup({ path: this.parent }));
  }

  create(name: string, settings: Omit<CgroupSettings, "path"> = {}): TestCgroup {
    const g = createCgroup({ ...settings, path: `${this.parent}/${name}` });
    this.made.push(g);
    return g;
  }

  /** Removes the given groups (all, children before the parent, when none given); returns the failures. */
  async remove(groups?: TestCgroup[]): Promise<string[]> {
    const doomed = groups ?? [...this.made];
    const failures: string[] = [];
    for (const g of [...doomed].reverse()) {
      try {
        await g.remove();
      } catch (err) {
        failures.push(oneLine(err));
      }
      const i = this.made.indexOf(g);
      if (i >= 0) this.made.splice(i, 1);
    }
    return failures;
  }
}
