// Counters every serving thread bumps and the serving process reports: plain Int32 cells in
// shared memory, because the threads never return to an event loop to send messages.
// The per-container tree: fills (renderings of its files the kernel caches), invalidations (of
// them, by the invalidation thread), treeRequests (every request it answered).
export const STAT_NAMES = ["opens", "rerendered", "renderFailures", "fills", "invalidations", "treeRequests"] as const;
export type StatName = (typeof STAT_NAMES)[number];
export type StatValues = Record<StatName, number>;

export function createStatsBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * STAT_NAMES.length);
}

/** The cell of one counter, for a thread that bumps it with its own atomics (the invalidation thread). */
export function statCell(buffer: SharedArrayBuffer, name: StatName): Int32Array {
  return new Int32Array(buffer, 4 * STAT_NAMES.indexOf(name), 1);
}

export class SharedStats {
  private readonly cells: Int32Array;
  constructor(buffer: SharedArrayBuffer) {
    this.cells = new Int32Array(buffer);
  }

  add(name: StatName, amount = 1): void {
    Atomics.add(this.cells, STAT_NAMES.indexOf(name), amount);
  }

  read(): StatValues {
    const values = {} as StatValues;
    STAT_NAMES.forEach((name, index) => (values[name] = Atomics.load(this.cells, index)));
    return values;
  }
}
