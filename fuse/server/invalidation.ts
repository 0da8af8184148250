// What the per-container tree's serving thread and the invalidation thread share. The serving
// thread fills files into the kernel's page cache and says, per file, by when the kernel must
// forget it; the invalidation thread, which does nothing else, tells the kernel so at that time
// and says back which files it has invalidated. Work is per file filled, never a sweep.
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
// is queued at most once at a time, so a ring as long as the slot table never overflows.

export const QUEUED = 1;
export const HELD = 2;
export const NOTIFYING = 4;

/** Control cells. */
const DUE_WRITTEN = 0;
const DUE_READ = 1;
const DONE_WRITTEN = 2;
const DONE_READ = 3;
const CONTROL_CELLS = 4;

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
}

export function createInvalidationBuffers(slots: number): InvalidationBuffers {
  return {
    slots,
    control: new SharedArrayBuffer(4 * CONTROL_CELLS),
    flags: new SharedArrayBuffer(4 * slots),
    heldUntil: new SharedArrayBuffer(8 * slots),
    dueTimes: new SharedArrayBuffer(16 * slots),
    dueSlots: new SharedArrayBuffer(4 * slots),
    doneInodes: new SharedArrayBuffer(8 * slots),
    doneSlots: new SharedArrayBuffer(4 * slots),
  };
}

class Shared {
  protected readonly control: Int32Array;
  readonly flags: Int32Array;
  protected readonly heldUntil: Float64Array;
  protected readonly dueTimes: Float64Array;
  protected readonly dueSlots: Int32Array;
  protected readonly doneInodes: Float64Array;
  protected readonly doneSlots: Int32Array;
  protected readonly slots: number;

  constructor(buffers: InvalidationBuffers) {
    this.slots = buffers.slots;
    this.control = new Int32Array(buffers.control);
    this.flags = new Int32Array(buffers.flags);
    this.heldUntil = new Float64Array(buffers.heldUntil);
    this.dueTimes = new Float64Array(buffers.dueTimes);
    this.dueSlots = new Int32Array(buffers.dueSlots);
    this.doneInodes = new Float64Array(buffers.doneInodes);
    this.doneSlots = new Int32Array(buffers.doneSlots);
  }
}

/** The serving thread's side. */
export class InvalidationQueue extends Shared {
  /** Queues `inode` (in `slot`) to be invalidated at `deadline`, unless it is queued already. */
  due(slot: number, inode: number, deadline: number): void {
    const flags = Atomics.load(this.flags, slot);
    if (flags & QUEUED) return;
    Atomics.or(this.flags, slot, QUEUED);
    const at = Atomics.load(this.control, DUE_WRITTEN);
    const index = at % this.slots;
    this.dueTimes[2 * index] = inode;
    this.dueTimes[2 * index + 1] = deadline;
    Atomics.store(this.dueSlots, index, slot);
    Atomics.store(this.control, DUE_WRITTEN, at + 1);
    Atomics.notify(this.control, DUE_WRITTEN);
  }

  isQueued(slot: number): boolean {
    return (Atomics.load(this.flags, slot) & QUEUED) !== 0;
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
      const index = read % this.slots;
      invalidated(Atomics.load(this.doneSlots, index), this.doneInodes[index]!);
      read++;
    }
    Atomics.store(this.control, DONE_READ, read);
  }
}

interface Due {
  deadline: number;
  inode: number;
  slot: number;
}

/** The invalidation thread's side: a min-heap of what is due, fed from the ring. */
export class InvalidationSchedule extends Shared {
  private readonly heap: Due[] = [];

  /** Moves what the serving thread queued into the schedule. */
  private drain(): void {
    const written = Atomics.load(this.control, DUE_WRITTEN);
    let read = Atomics.load(this.control, DUE_READ);
    while (read !== written) {
      const index = read % this.slots;
      this.push({ inode: this.dueTimes[2 * index]!, deadline: this.dueTimes[2 * index + 1]!, slot: Atomics.load(this.dueSlots, index) });
      read++;
    }
    Atomics.store(this.control, DUE_READ, read);
  }

  /**
   * Waits until a file is due and returns it, claimed (NOTIFYING set, QUEUED cleared); the
   * caller notifies the kernel and then calls finish(). A file held waits a little.
   */
  next(now: () => number): Due {
    for (;;) {
      this.drain();
      const seen = Atomics.load(this.control, DUE_WRITTEN);
      const first = this.heap[0];
      if (first === undefined) {
        Atomics.wait(this.control, DUE_WRITTEN, seen);
        continue;
      }
      const wait = first.deadline - now();
      if (wait > 0) {
        Atomics.wait(this.control, DUE_WRITTEN, seen, wait);
        continue;
      }
      this.pop();
      if (this.claim(first.slot, now())) return first;
      // Held: a read that sets its size is on its way; come back to it shortly.
      this.push({ ...first, deadline: now() + HOLD_RETRY_MS });
    }
  }

  private claim(slot: number, now: number): boolean {
    for (;;) {
      const flags = Atomics.load(this.flags, slot);
      if (flags & HELD && now < this.heldUntil[slot]!) return false;
      const claimed = (flags | NOTIFYING) & ~QUEUED & ~HELD;
      if (Atomics.compareExchange(this.flags, slot, flags, claimed) === flags) return true;
    }
  }

  finish(due: Due): void {
    Atomics.and(this.flags, due.slot, ~NOTIFYING);
    const at = Atomics.load(this.control, DONE_WRITTEN);
    const index = at % this.slots;
    this.doneInodes[index] = due.inode;
    Atomics.store(this.doneSlots, index, due.slot);
    Atomics.store(this.control, DONE_WRITTEN, at + 1);
  }

  private push(due: Due): void {
    const heap = this.heap;
    heap.push(due);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.deadline <= heap[i]!.deadline) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    for (let i = 0; ;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < heap.length && heap[left]!.deadline < heap[least]!.deadline) least = left;
      if (right < heap.length && heap[right]!.deadline < heap[least]!.deadline) least = right;
      if (least === i) break;
      [heap[least], heap[i]] = [heap[i]!, heap[least]!];
      i = least;
    }
  }
}

/** How soon a file left alone while held is looked at again. */
const HOLD_RETRY_MS = 2;
