// Load averages computed by the service thread every 5 s and read by every serving thread
// without a message round trip: one Int32 triple per tracked container in shared memory,
// holding the kernel's fixed-point values (FIXED_1 = 2048).
const FIELDS = 3;

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

  write(slot: number, fixed: readonly [number, number, number]): void {
    for (let i = 0; i < FIELDS; i++) Atomics.store(this.values, slot * FIELDS + i, fixed[i]!);
  }

  read(slot: number): [number, number, number] {
    const base = slot * FIELDS;
    return [Atomics.load(this.values, base), Atomics.load(this.values, base + 1), Atomics.load(this.values, base + 2)];
  }

  clear(slot: number): void {
    this.write(slot, [0, 0, 0]);
  }
}
