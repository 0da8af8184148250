// What the per-container tree's serving thread and the invalidation thread (a native thread:
// native/procview-invalidate.c, started by invalidator.ts) share. The serving thread fills files
// into the kernel's page cache and says, per file, by when the kernel must forget it; the
// invalidation thread, which does nothing else, tells the kernel so at that time and says back
// which files it has invalidated. Work is per file filled, never a sweep.
//
// Each file the serving thread tracks has a slot. Its flags:
// - QUEUED: an invalidation is due for it (set by the serving thread when it serves the file
//   and none is; cleared by the invalidation thread just before it notifies the kernel, so a
//   file served while the kernel drops it is queued again);
// - HELD: the serving thread waits for a read of the file whose answer sets its size in the
//   kernel (after it answered the file's attributes, after it raised its size, while that answer
//   is on its way: see container-tree.ts); the invalidation thread leaves the file alone until
//   then (or a deadline), since an invalidation would keep that answer from setting the size;
// - NOTIFYING: the invalidation thread is notifying the kernel about it; the serving thread does
//   not hold it meanwhile.
// Two rings carry the rest: due (slot, inode, deadline) one way, done (slot, inode) back. A slot
// is queued at most once at a time, so a ring as long as the slot table never overflows. The
// rings' counters are Int32 cells that wrap; read as unsigned, with a power of two slots, the
// ring index goes on across the wrap. The
// invalidation thread sleeps on the due ring's write counter until the first file it holds is
// due; it says until when (SLEEPING, sleepUntil), and the serving thread wakes it only for a file
// due before that.

export const QUEUED = 1;
export const HELD = 2;
export const NOTIFYING = 4;

/** Control cells. Cell 1 is the due ring's read counter, the invalidation thread's alone. */
const DUE_WRITTEN = 0;
const DONE_WRITTEN = 2;
const DONE_READ = 3;
const SLEEPING = 4;
const CONTROL_CELLS = 5;

export interface InvalidationBuffers {
  slots: number;
  control: SharedArrayBuffer;
  flags: SharedArrayBuffer;
  /** Per slot: until when (ms since the epoch) a hold may keep the invalidation waiting. */
  heldUntil: SharedArrayBuffer;
  /** Due ring: inode and deadline per entry, and the slot. */
  dueTimes: SharedArrayBuffer;
  dueSlots: SharedArrayBuffer;
  /** Done ring: inode per entry, and the slot. */
  doneInodes: SharedArrayBuffer;
  doneSlots: SharedArrayBuffer;
  /** Until when (ms since the epoch) the invalidation thread sleeps, while SLEEPING is set. */
  sleepUntil: SharedArrayBuffer;
}

export function createInvalidationBuffers(slots: number): InvalidationBuffers {
  if (!Number.isInteger(Math.log2(slots))) throw new RangeError("slots must be a power of two");
  return {
    slots,
    control: new SharedArrayBuffer(4 * CONTROL_CELLS),
    flags: new SharedArrayBuffer(4 * slots),
    heldUntil: new SharedArrayBuffer(8 * slots),
    dueTimes: new SharedArrayBuffer(16 * slots),
    dueSlots: new SharedArrayBuffer(4 * slots),
    doneInodes: new SharedArrayBuffer(8 * slots),
    doneSlots: new SharedArrayBuffer(4 * slots),
    sleepUntil: new SharedArrayBuffer(8),
  };
}

/** The typed arrays the invalidation thread works on, in the order its start() takes them. */
export function invalidationArrays(buffers: InvalidationBuffers) {
  return [
    new Int32Array(buffers.control),
    new Int32Array(buffers.flags),
    new Float64Array(buffers.heldUntil),
    new Float64Array(buffers.dueTimes),
    new Int32Array(buffers.dueSlots),
    new Float64Array(buffers.doneInodes),
    new Int32Array(buffers.doneSlots),
    new Float64Array(buffers.sleepUntil),
  ] as const;
}

/** The serving thread's side. */
export class InvalidationQueue {
  private readonly control: Int32Array;
  private readonly flags: Int32Array;
  private readonly heldUntil: Float64Array;
  private readonly dueTimes: Float64Array;
  private readonly dueSlots: Int32Array;
  private readonly doneInodes: Float64Array;
  private readonly doneSlots: Int32Array;
  private readonly sleepUntil: Float64Array;
  private readonly slots: number;

  /** `wake` wakes the invalidation thread (invalidator.ts). */
  constructor(
    buffers: InvalidationBuffers,
    private readonly wake: () => void,
  ) {
    this.slots = buffers.slots;
    [this.control, this.flags, this.heldUntil, this.dueTimes, this.dueSlots, this.doneInodes, this.doneSlots, this.sleepUntil] =
      invalidationArrays(buffers);
  }
  /** Queues `inode` (in `slot`) to be invalidated at `deadline`, unless it is queued already. */
  due(slot: number, inode: number, deadline: number): void {
    const flags = Atomics.load(this.flags, slot);
    if (flags & QUEUED) return;
    Atomics.or(this.flags, slot, QUEUED);
    const at = Atomics.load(this.control, DUE_WRITTEN);
    const index = (at >>> 0) % this.slots;
    this.dueTimes[2 * index] = inode;
    this.dueTimes[2 * index + 1] = deadline;
    Atomics.store(this.dueSlots, index, slot);
    Atomics.store(this.control, DUE_WRITTEN, (at + 1) | 0);
    if (Atomics.load(this.control, SLEEPING) !== 0 && deadline < this.sleepUntil[0]!) this.wake();
  }

  isQueued(slot: number): boolean {
    return (Atomics.load(this.flags, slot) & QUEUED) !== 0;
  }

  /** Whether the invalidation thread is notifying the kernel about the slot's file. */
  isNotifying(slot: number): boolean {
    return (Atomics.load(this.flags, slot) & NOTIFYING) !== 0;
  }

  /** Holds the slot until `until` at most, unless its invalidation is under way (then false). */
  hold(slot: number, until: number): boolean {
    this.heldUntil[slot] = Math.max(until, Atomics.load(this.flags, slot) & HELD ? this.heldUntil[slot]! : 0);
    for (;;) {
      const flags = Atomics.load(this.flags, slot);
      if (flags & NOTIFYING) return false;
      if (Atomics.compareExchange(this.flags, slot, flags, flags | HELD) === flags) return true;
    }
  }

  /** Keeps a held slot held until `until`, sooner or later than its hold said. */
  holdUntil(slot: number, until: number): void {
    this.heldUntil[slot] = until;
  }

  release(slot: number): void {
    Atomics.and(this.flags, slot, ~HELD);
  }

  /** Forgets a slot's flags before it is given to another file (only ever a slot not queued). */
  reset(slot: number): void {
    Atomics.store(this.flags, slot, 0);
  }

  /** Calls `invalidated` for each file invalidated since the last call. */
  takeDone(invalidated: (slot: number, inode: number) => void): void {
    const written = Atomics.load(this.control, DONE_WRITTEN);
    let read = Atomics.load(this.control, DONE_READ);
    while (read !== written) {
      const index = (read >>> 0) % this.slots;
      invalidated(Atomics.load(this.doneSlots, index), this.doneInodes[index]!);
      read = (read + 1) | 0;
    }
    Atomics.store(this.control, DONE_READ, read);
  }
}
