// File contents rendered at OPEN, kept per file handle until RELEASE, readable from every
// worker thread. The kernel gives OPEN and the READs that follow to whichever thread is
// reading /dev/fuse, so the content cannot live in one thread's heap: it lives in a
// SharedArrayBuffer cut into 4 KiB pages chained per handle. Allocation takes a tiny lock;
// reads take none (a handle's pages cannot change between OPEN and RELEASE, and the kernel
// sends RELEASE only once no read is in flight).

export const PAGE_SIZE = 4096;
const SLOT_BITS = 20;
const SLOT_SPAN = 2 ** SLOT_BITS;
/** fh = epoch · 2^40 + generation · 2^20 + slot. The epoch differs between serving processes,
 * so a handle issued by a process that died never names a live handle of its successor. */
const EPOCH_SPAN = 2 ** 40;
export const MAX_EPOCH = 4095;

// Layout of the meta Int32Array.
const LOCK = 0;
const FREE_PAGE_HEAD = 1;
const FREE_HANDLE_HEAD = 2;
const HANDLES_IN_USE = 3;
const HEADER = 4;
// Per handle: generation, byte length, first page, next free handle, read yet (0/1).
const H_GEN = 0;
const H_LENGTH = 1;
const H_FIRST = 2;
const H_NEXT = 3;
const H_READ = 4;
const H_FIELDS = 5;
/** H_LENGTH of a slot no open file holds: a handle naming it is refused. */
const FREE = -1;

export interface HandleStoreBuffers {
  epoch: number;
  meta: SharedArrayBuffer;
  data: SharedArrayBuffer;
  pages: number;
  handles: number;
}

export interface HandleStoreSize {
  /** 4 KiB pages in the arena (its size bounds the content of all open files together). */
  pages: number;
  /** Open files at once. */
  handles: number;
}

export function createHandleStoreBuffers(size: HandleStoreSize, epoch = 1): HandleStoreBuffers {
  if (size.handles >= SLOT_SPAN) throw new RangeError(`at most ${SLOT_SPAN - 1} handles`);
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > MAX_EPOCH) throw new RangeError(`epoch must be 1..${MAX_EPOCH}`);
  const meta = new SharedArrayBuffer(4 * (HEADER + size.pages + size.handles * H_FIELDS));
  const data = new SharedArrayBuffer(size.pages * PAGE_SIZE);
  const m = new Int32Array(meta);
  const pageNext = HEADER;
  for (let p = 0; p < size.pages; p++) m[pageNext + p] = p + 1 < size.pages ? p + 1 : -1;
  m[FREE_PAGE_HEAD] = size.pages > 0 ? 0 : -1;
  const table = HEADER + size.pages;
  // Handle slot 0 is never used so that fh 0 stays free for directories.
  for (let h = 1; h < size.handles; h++) {
    m[table + h * H_FIELDS + H_NEXT] = h + 1 < size.handles ? h + 1 : -1;
    m[table + h * H_FIELDS + H_GEN] = 1;
    m[table + h * H_FIELDS + H_LENGTH] = FREE;
  }
  m[FREE_HANDLE_HEAD] = size.handles > 1 ? 1 : -1;
  return { epoch, meta, data, pages: size.pages, handles: size.handles };
}

export class HandleStore {
  private readonly meta: Int32Array;
  private readonly data: Buffer;
  private readonly pageNextBase = HEADER;
  private readonly tableBase: number;
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly epochBase: number;

  constructor(buffers: HandleStoreBuffers) {
    this.epochBase = buffers.epoch * EPOCH_SPAN;
    this.meta = new Int32Array(buffers.meta);
    this.data = Buffer.from(buffers.data);
    this.tableBase = HEADER + buffers.pages;
  }

  /** Stores `content` and returns its file handle, or -errno (ENFILE when the store is full). */
  store(content: string): number {
    const length = this.encode(content);
    const m = this.meta;
    this.lock();
    let slot: number;
    let first: number;
    try {
      slot = m[FREE_HANDLE_HEAD]!;
      if (slot < 0) return -23; // ENFILE
      first = this.takePages(length);
      if (first < 0) return -23;
      const h = this.tableBase + slot * H_FIELDS;
      m[FREE_HANDLE_HEAD] = m[h + H_NEXT]!;
      m[h + H_LENGTH] = length;
      m[h + H_FIRST] = first;
      m[h + H_READ] = 0;
      m[HANDLES_IN_USE]!++;
    } finally {
      this.unlock();
    }
    this.writePages(first, length);
    const gen = Atomics.load(m, this.tableBase + slot * H_FIELDS + H_GEN);
    return this.epochBase + gen * SLOT_SPAN + slot;
  }

  /** Whether the handle's content was read at least once (false for an unknown handle). */
  wasRead(fh: number): boolean {
    const h = this.handleIndex(fh);
    return h >= 0 && Atomics.load(this.meta, h + H_READ) === 1;
  }

  /** Gives an open handle new content (a reader that re-reads from offset 0); 0 or -errno. */
  replace(fh: number, content: string): number {
    const h = this.handleIndex(fh);
    if (h < 0) return -9; // EBADF
    const length = this.encode(content);
    const m = this.meta;
    this.lock();
    let first: number;
    try {
      first = this.takePages(length);
    } finally {
      this.unlock();
    }
    if (first < 0) return -23; // ENFILE
    this.writePages(first, length);
    this.lock();
    try {
      const old = m[h + H_FIRST]!;
      m[h + H_FIRST] = first;
      m[h + H_LENGTH] = length;
      this.freeChain(old);
    } finally {
      this.unlock();
    }
    return 0;
  }

  /** UTF-8 of `content` into the scratch buffer; returns its length. */
  private encode(content: string): number {
    let length = this.scratch.write(content, 0, "utf8");
    if (length === this.scratch.length) {
      this.scratch = Buffer.allocUnsafe(Math.max(Buffer.byteLength(content) + 1, this.scratch.length * 2));
      length = this.scratch.write(content, 0, "utf8");
    }
    return length;
  }

  /** Under the lock: enough pages for `length` bytes off the free list, chained in order; -1 if short. */
  private takePages(length: number): number {
    const m = this.meta;
    const pagesNeeded = Math.max(1, Math.ceil(length / PAGE_SIZE));
    const first = m[FREE_PAGE_HEAD]!;
    let last = first;
    for (let i = 1; i < pagesNeeded && last >= 0; i++) last = m[this.pageNextBase + last]!;
    if (last < 0) return -1;
    m[FREE_PAGE_HEAD] = m[this.pageNextBase + last]!;
    m[this.pageNextBase + last] = -1;
    return first;
  }

  /** Copies the scratch buffer's first `length` bytes into the chain starting at `first`. */
  private writePages(first: number, length: number): void {
    let page = first;
    for (let copied = 0; copied < length; copied += PAGE_SIZE) {
      this.scratch.copy(this.data, page * PAGE_SIZE, copied, Math.min(length, copied + PAGE_SIZE));
      page = this.meta[this.pageNextBase + page]!;
    }
  }

  /** Under the lock: puts a whole chain back on the free list. */
  private freeChain(first: number): void {
    const m = this.meta;
    let last = first;
    while (m[this.pageNextBase + last]! >= 0) last = m[this.pageNextBase + last]!;
    m[this.pageNextBase + last] = m[FREE_PAGE_HEAD]!;
    m[FREE_PAGE_HEAD] = first;
  }

  /** Copies up to `size` bytes at `offset` of the handle's content into `out`; -EBADF for a
   * handle this store did not issue or already released. */
  read(fh: number, offset: number, size: number, out: Buffer, outOffset: number): number {
    const h = this.handleIndex(fh);
    if (h < 0) return -9; // EBADF
    const m = this.meta;
    if (m[h + H_READ] === 0) Atomics.store(m, h + H_READ, 1);
    const length = m[h + H_LENGTH]!;
    if (offset >= length) return 0;
    const end = Math.min(length, offset + size);
    let page = m[h + H_FIRST]!;
    for (let skip = Math.floor(offset / PAGE_SIZE); skip > 0; skip--) page = m[this.pageNextBase + page]!;
    let position = offset;
    let written = 0;
    while (position < end) {
      const inPage = position % PAGE_SIZE;
      const chunk = Math.min(PAGE_SIZE - inPage, end - position);
      const start = page * PAGE_SIZE + inPage;
      this.data.copy(out, outOffset + written, start, start + chunk);
      written += chunk;
      position += chunk;
      page = m[this.pageNextBase + page]!;
    }
    return written;
  }

  release(fh: number): void {
    const h = this.handleIndex(fh);
    if (h < 0) return;
    const m = this.meta;
    this.lock();
    try {
      this.freeChain(m[h + H_FIRST]!);
      Atomics.store(m, h + H_LENGTH, FREE);
      // A new generation makes any late use of the old fh fail instead of reading another file.
      Atomics.store(m, h + H_GEN, (m[h + H_GEN]! + 1) % SLOT_SPAN || 1);
      m[h + H_NEXT] = m[FREE_HANDLE_HEAD]!;
      m[FREE_HANDLE_HEAD] = fh % SLOT_SPAN;
      m[HANDLES_IN_USE]!--;
    } finally {
      this.unlock();
    }
  }

  get openHandles(): number {
    return Atomics.load(this.meta, HANDLES_IN_USE);
  }

  private handleIndex(fh: number): number {
    if (fh - this.epochBase < 0 || fh - this.epochBase >= EPOCH_SPAN) return -1;
    const slot = fh % SLOT_SPAN;
    const gen = Math.floor((fh - this.epochBase) / SLOT_SPAN);
    if (slot <= 0 || this.tableBase + slot * H_FIELDS >= this.meta.length) return -1;
    const h = this.tableBase + slot * H_FIELDS;
    return Atomics.load(this.meta, h + H_GEN) === gen && Atomics.load(this.meta, h + H_LENGTH) !== FREE ? h : -1;
  }

  private lock(): void {
    while (Atomics.compareExchange(this.meta, LOCK, 0, 1) !== 0) Atomics.wait(this.meta, LOCK, 1, 1);
  }

  private unlock(): void {
    Atomics.store(this.meta, LOCK, 0);
    Atomics.notify(this.meta, LOCK, 1);
  }
}
