// Load averages computed by the service thread every 5 s and read by every serving thread
// without a message round trip: per slot, the id of the container it currently belongs to and
// the kernel's fixed-point loads (FIXED_1 = 2048). A reader checks the id, so a slot handed to
// another container after its first one vanished never shows the old container's load.
import type { FixedLoads } from "../load/decay.js";

const FIELDS = 4;
const ID = 0;

export interface LoadTableBuffers {
  values: SharedArrayBuffer;
  slots: number;
}

export function createLoadTableBuffers(slots: number): LoadTableBuffers {
  return { values: new SharedArrayBuffer(4 * FIELDS * slots), slots };
}

export class LoadTable {
  private readonly values: Int32Array;
  constructor(readonly buffers: LoadTableBuffers) {
    this.values = new Int32Array(buffers.values);
  }

  write(slot: number, id: number, loads: FixedLoads): void {
    const base = slot * FIELDS;
    Atomics.store(this.values, base + 1, loads.load1);
    Atomics.store(this.values, base + 2, loads.load5);
    Atomics.store(this.values, base + 3, loads.load15);
    Atomics.store(this.values, base + ID, id);
  }

  /** null when the slot no longer (or not yet) belongs to container `id`. */
  read(slot: number, id: number): FixedLoads | null {
    const base = slot * FIELDS;
    if (Atomics.load(this.values, base + ID) !== id) return null;
    const loads = { load1: Atomics.load(this.values, base + 1), load5: Atomics.load(this.values, base + 2), load15: Atomics.load(this.values, base + 3) };
    return Atomics.load(this.values, base + ID) === id ? loads : null;
  }

  release(slot: number): void {
    Atomics.store(this.values, slot * FIELDS + ID, 0);
  }
}
