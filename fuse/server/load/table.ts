// What the main thread samples every 5 s, read by every serving thread without a message
// round trip: per slot, the id of the container it currently belongs to, the kernel's
// fixed-point loads (FIXED_1 = 2048) and the task counts of the last sample. A reader checks
// the id, so a slot handed to another container after its first one vanished never shows the
// old container's numbers.
import type { FixedLoads } from "./decay.js";
import type { TaskNumbers } from "../../cgroup/types.js";

const FIELDS = 8;
const ID = 0;
const NO_TASKS = -1;

export interface LoadTableBuffers {
  values: SharedArrayBuffer;
  slots: number;
}

export interface LoadEntry {
  loads: FixedLoads;
  /** null until the container's tasks were counted once. */
  tasks: TaskNumbers | null;
}

export function createLoadTableBuffers(slots: number): LoadTableBuffers {
  return { values: new SharedArrayBuffer(4 * FIELDS * slots), slots };
}

export class LoadTable {
  private readonly values: Int32Array;
  constructor(readonly buffers: LoadTableBuffers) {
    this.values = new Int32Array(buffers.values);
  }

  write(slot: number, id: number, entry: LoadEntry): void {
    const v = this.values;
    const base = slot * FIELDS;
    // Invalidate first so that a reader never pairs this id with half-written numbers.
    Atomics.store(v, base + ID, 0);
    Atomics.store(v, base + 1, entry.loads.load1);
    Atomics.store(v, base + 2, entry.loads.load5);
    Atomics.store(v, base + 3, entry.loads.load15);
    Atomics.store(v, base + 4, entry.tasks ? entry.tasks.running : NO_TASKS);
    Atomics.store(v, base + 5, entry.tasks ? entry.tasks.blocked : NO_TASKS);
    Atomics.store(v, base + 6, entry.tasks ? entry.tasks.total : NO_TASKS);
    Atomics.store(v, base + 7, entry.tasks ? entry.tasks.lastPid : NO_TASKS);
    Atomics.store(v, base + ID, id);
  }

  /** null when the slot no longer (or not yet) belongs to container `id`. */
  read(slot: number, id: number): LoadEntry | null {
    const v = this.values;
    const base = slot * FIELDS;
    if (Atomics.load(v, base + ID) !== id) return null;
    const loads = { load1: Atomics.load(v, base + 1), load5: Atomics.load(v, base + 2), load15: Atomics.load(v, base + 3) };
    const total = Atomics.load(v, base + 6);
    const tasks =
      total === NO_TASKS
        ? null
        : { running: Atomics.load(v, base + 4), blocked: Atomics.load(v, base + 5), total, lastPid: Atomics.load(v, base + 7) };
    // Rewritten meanwhile: report nothing rather than a mix of two samples.
    return Atomics.load(v, base + ID) === id ? { loads, tasks } : null;
  }

  release(slot: number): void {
    Atomics.store(this.values, slot * FIELDS + ID, 0);
  }
}
