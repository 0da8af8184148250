// File contents rendered at OPEN, kept per file handle until RELEASE, readable from every
// worker thread. The kernel gives OPEN and the READs that follow to whichever thread is
// reading /dev/fuse, so the content cannot live in one thread's heap: it lives in a
// SharedArrayBuffer cut into 4 KiB pages chained per handle.
//
// Locks. One guards the free lists and the tenants' accounts (short sections, no copying under
// it); one per handle is held while that handle's text is read, rewritten or freed. The kernel
// does send concurrent READs on one handle (pread from several threads of a process on a
// direct-I/O file), and a reader coming back to offset 0 gets the text rendered afresh: without
// the handle's lock a read could walk a page chain that another thread has just freed and a
// third has filled with another tenant's file. Order: a handle's lock, then the global one.
//
// Tenants. Every handle is charged to the tenant that opened it: a container, or the host. A
// container may hold at most its share (ShareRules.container*), and every tenant is guaranteed
// a floor that nobody else can take: the store keeps free, at all times, what the floors of the
// tenants holding anything still lack (and the host's, always). Beyond its floor a tenant only
// borrows what is left over after that and after room for newcomers. So one tenant exhausting
// its share, or the whole store, never costs another tenant an open within its floor.

export const PAGE_SIZE = 4096;
const SLOT_BITS = 20;
const SLOT_SPAN = 2 ** SLOT_BITS;
/** fh = epoch · 2^40 + generation · 2^20 + slot. The epoch differs between serving processes,
 * so a handle issued by a process that died never names a live handle of its successor. */
const EPOCH_SPAN = 2 ** 40;
export const MAX_EPOCH = 4095;

const EMFILE = 24;
const ENFILE = 23;
const EBADF = 9;

// Layout of the meta Int32Array: header, then each page's successor, then the handle table,
// then the tenant table.
const LOCK = 0;
const FREE_PAGE_HEAD = 1;
const FREE_HANDLE_HEAD = 2;
const HANDLES_IN_USE = 3;
const PAGES_IN_USE = 4;
/** What the floors of the tenants holding anything (and the host's) still lack. */
const RESERVED_HANDLES = 5;
const RESERVED_PAGES = 6;
/** Tenants holding at least one handle, the host included. */
const ACTIVE_TENANTS = 7;
/** Refusals of tenants the tenant table had no room for (it is sized never to fill). */
const UNRECORDED_REFUSALS = 8;
const HEADER = 9;
// Per handle: generation, byte length, first page, next free handle, read yet (0/1), its own
// lock, its tenant (the two halves of the tenant's hash), pages in its chain.
const H_GEN = 0;
const H_LENGTH = 1;
const H_FIRST = 2;
const H_NEXT = 3;
const H_READ = 4;
const H_LOCK = 5;
const H_TENANT_A = 6;
const H_TENANT_B = 7;
const H_PAGES = 8;
const H_FIELDS = 9;
/** H_LENGTH of a slot no open file holds: a handle naming it is refused. */
const FREE = -1;
// Per tenant slot (open addressing on the key's hash): used (0/1), hash halves, handles and
// pages held, host (0/1), refusals not yet reported, length of its name.
const T_USED = 0;
const T_HASH_A = 1;
const T_HASH_B = 2;
const T_HANDLES = 3;
const T_PAGES = 4;
const T_HOST = 5;
const T_REFUSED = 6;
const T_NAME_LENGTH = 7;
const T_FIELDS = 8;
/** A tenant's name as kept for the log line (cgroup paths; longer ones are cut). */
const NAME_BYTES = 120;
/** Newcomers a borrower must leave room for, at least (more when more tenants are active). */
const MIN_NEWCOMERS = 16;

/** What the store enforces (fuse/server/share.ts derives it from the limits a user sets). */
export interface ShareRules {
  /** Open files at once, every tenant together. */
  handles: number;
  /** 4 KiB pages of rendered text, every tenant together. */
  pages: number;
  /** What one container may hold at most. */
  containerHandles: number;
  containerPages: number;
  /** What every container is guaranteed, whatever the others hold: it may always open this
   * many files, holding this many pages, as long as it holds less. */
  floorHandles: number;
  floorPages: number;
  /** The host's guarantee (host processes as root, and procview's own, such as the hook's
   * probe): set aside even while the host reads nothing. */
  hostHandles: number;
  hostPages: number;
  /** Slots of the tenant table. */
  tenants: number;
}

/** Who a handle is charged to. `key` tells tenants apart (a container's cgroup key); the host
 * (host processes as root, and procview's own) is one tenant with a guarantee of its own. */
export interface Tenant {
  key: string;
  host: boolean;
}

export const HOST_TENANT: Tenant = { key: "the host", host: true };

export interface HandleStoreBuffers {
  epoch: number;
  meta: SharedArrayBuffer;
  data: SharedArrayBuffer;
  names: SharedArrayBuffer;
  rules: ShareRules;
}

export interface TenantUsage {
  handles: number;
  pages: number;
}

/** A tenant's refusals since the last report, with what it held then. */
export interface RefusalReport extends TenantUsage {
  tenant: string;
  host: boolean;
  refused: number;
}

export function createHandleStoreBuffers(rules: ShareRules, epoch = 1): HandleStoreBuffers {
  if (rules.handles >= SLOT_SPAN) throw new RangeError(`at most ${SLOT_SPAN - 1} handles`);
  if (!Number.isInteger(epoch) || epoch < 1 || epoch > MAX_EPOCH) throw new RangeError(`epoch must be 1..${MAX_EPOCH}`);
  const meta = new SharedArrayBuffer(4 * (HEADER + rules.pages + rules.handles * H_FIELDS + rules.tenants * T_FIELDS));
  // Only pages ever used are touched, so the store costs the memory it holds, not its size.
  const data = new SharedArrayBuffer(rules.pages * PAGE_SIZE);
  const names = new SharedArrayBuffer(rules.tenants * NAME_BYTES);
  const m = new Int32Array(meta);
  for (let p = 0; p < rules.pages; p++) m[HEADER + p] = p + 1 < rules.pages ? p + 1 : -1;
  m[FREE_PAGE_HEAD] = rules.pages > 0 ? 0 : -1;
  const table = HEADER + rules.pages;
  // Handle slot 0 is never used so that fh 0 stays free for directories.
  for (let h = 1; h < rules.handles; h++) {
    m[table + h * H_FIELDS + H_NEXT] = h + 1 < rules.handles ? h + 1 : -1;
    m[table + h * H_FIELDS + H_GEN] = 1;
    m[table + h * H_FIELDS + H_LENGTH] = FREE;
  }
  m[FREE_HANDLE_HEAD] = rules.handles > 1 ? 1 : -1;
  const buffers = { epoch, meta, data, names, rules };
  // The host's tenant exists from the start and its floor is set aside at once.
  new HandleStore(buffers).registerHost();
  return buffers;
}

/** Two 32-bit FNV-1a variants of a tenant key: a collision only makes two tenants share one
 * account (never one's text another's: content is per handle). */
function tenantHash(tenant: Tenant): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  const key = tenant.host ? "\0host" : tenant.key;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return [a | 0, b | 0];
}

export class HandleStore {
  private readonly meta: Int32Array;
  private readonly data: Buffer;
  private readonly names: Buffer;
  private readonly rules: ShareRules;
  private readonly pageNextBase = HEADER;
  private readonly handleBase: number;
  private readonly tenantBase: number;
  private scratch = Buffer.allocUnsafe(64 * 1024);
  private readonly epochBase: number;

  constructor(buffers: HandleStoreBuffers) {
    this.epochBase = buffers.epoch * EPOCH_SPAN;
    this.meta = new Int32Array(buffers.meta);
    this.data = Buffer.from(buffers.data);
    this.names = Buffer.from(buffers.names);
    this.rules = buffers.rules;
    this.handleBase = HEADER + buffers.rules.pages;
    this.tenantBase = this.handleBase + buffers.rules.handles * H_FIELDS;
  }

  /** Stores `content` for `tenant` and returns its file handle, or -errno: EMFILE when the
   * tenant holds its share already, ENFILE when the store cannot take it without eating into
   * what is set aside for others. */
  store(content: string, tenant: Tenant): number {
    const length = this.encode(content);
    const pages = pagesFor(length);
    const m = this.meta;
    const [hashA, hashB] = tenantHash(tenant);
    let slot: number;
    let first: number;
    this.lock();
    try {
      const t = this.findTenant(hashA, hashB, tenant);
      if (t < 0) {
        m[UNRECORDED_REFUSALS]!++;
        return -ENFILE;
      }
      const refused = this.admit(t, 1, pages);
      if (refused !== 0) {
        m[t + T_REFUSED]!++;
        return -refused;
      }
      slot = m[FREE_HANDLE_HEAD]!;
      first = this.takePages(pages);
      const h = this.handleBase + slot * H_FIELDS;
      m[FREE_HANDLE_HEAD] = m[h + H_NEXT]!;
      m[h + H_FIRST] = first;
      m[h + H_PAGES] = pages;
      m[h + H_READ] = 0;
      m[h + H_TENANT_A] = hashA;
      m[h + H_TENANT_B] = hashB;
      this.charge(t, 1, pages);
      Atomics.store(m, h + H_LENGTH, length);
    } finally {
      this.unlock();
    }
    // Nobody knows the handle before it is returned: no lock needed to fill it.
    this.writePages(first, length);
    const gen = Atomics.load(m, this.handleBase + slot * H_FIELDS + H_GEN);
    return this.epochBase + gen * SLOT_SPAN + slot;
  }

  /** Whether the handle's content was read at least once (false for an unknown handle). */
  wasRead(fh: number): boolean {
    const h = this.handleIndex(fh);
    return h >= 0 && Atomics.load(this.meta, h + H_READ) === 1;
  }

  /** Gives an open handle new content (a reader that re-reads from offset 0); 0 or -errno.
   * The text is rewritten in place, under the handle's lock; a longer text takes more pages
   * from its tenant's account, and when that is refused the old text stays. */
  replace(fh: number, content: string): number {
    const h = this.handleIndex(fh);
    if (h < 0) return -EBADF;
    const length = this.encode(content);
    const pages = pagesFor(length);
    const m = this.meta;
    this.lockHandle(h);
    try {
      if (!this.holds(h, fh)) return -EBADF;
      const have = m[h + H_PAGES]!;
      if (pages !== have) {
        this.lock();
        try {
          const t = this.findTenant(m[h + H_TENANT_A]!, m[h + H_TENANT_B]!);
          if (pages > have) {
            const refused = t < 0 ? ENFILE : this.admit(t, 0, pages - have);
            if (refused !== 0) {
              if (t >= 0) m[t + T_REFUSED]!++;
              return -refused;
            }
            m[this.pageNextBase + this.lastPage(m[h + H_FIRST]!)] = this.takePages(pages - have);
          } else {
            const keep = this.nthPage(m[h + H_FIRST]!, pages - 1);
            this.freeChain(m[this.pageNextBase + keep]!);
            m[this.pageNextBase + keep] = -1;
          }
          if (t >= 0) this.charge(t, 0, pages - have);
          m[h + H_PAGES] = pages;
        } finally {
          this.unlock();
        }
      }
      this.writePages(m[h + H_FIRST]!, length);
      Atomics.store(m, h + H_LENGTH, length);
      return 0;
    } finally {
      this.unlockHandle(h);
    }
  }

  /** Copies up to `size` bytes at `offset` of the handle's content into `out`; -EBADF for a
   * handle this store did not issue or already released. */
  read(fh: number, offset: number, size: number, out: Buffer, outOffset: number): number {
    const h = this.handleIndex(fh);
    if (h < 0) return -EBADF;
    const m = this.meta;
    this.lockHandle(h);
    try {
      if (!this.holds(h, fh)) return -EBADF;
      if (m[h + H_READ] === 0) Atomics.store(m, h + H_READ, 1);
      const length = m[h + H_LENGTH]!;
      if (offset >= length) return 0;
      const end = Math.min(length, offset + size);
      let page = this.nthPage(m[h + H_FIRST]!, Math.floor(offset / PAGE_SIZE));
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
    } finally {
      this.unlockHandle(h);
    }
  }

  release(fh: number): void {
    const h = this.handleIndex(fh);
    if (h < 0) return;
    const m = this.meta;
    this.lockHandle(h);
    try {
      if (!this.holds(h, fh)) return;
      this.lock();
      try {
        this.freeChain(m[h + H_FIRST]!);
        const t = this.findTenant(m[h + H_TENANT_A]!, m[h + H_TENANT_B]!);
        if (t >= 0) this.charge(t, -1, -m[h + H_PAGES]!);
        Atomics.store(m, h + H_LENGTH, FREE);
        // A new generation makes any late use of the old fh fail instead of reading another file.
        Atomics.store(m, h + H_GEN, (m[h + H_GEN]! + 1) % SLOT_SPAN || 1);
        m[h + H_NEXT] = m[FREE_HANDLE_HEAD]!;
        m[FREE_HANDLE_HEAD] = fh % SLOT_SPAN;
      } finally {
        this.unlock();
      }
    } finally {
      this.unlockHandle(h);
    }
  }

  get openHandles(): number {
    return Atomics.load(this.meta, HANDLES_IN_USE);
  }

  get pagesInUse(): number {
    return Atomics.load(this.meta, PAGES_IN_USE);
  }

  /** What a tenant holds now (null: nothing, and no refusal pending). */
  usage(tenant: Tenant): TenantUsage | null {
    const [hashA, hashB] = tenantHash(tenant);
    this.lock();
    try {
      const t = this.findTenant(hashA, hashB);
      return t < 0 ? null : { handles: this.meta[t + T_HANDLES]!, pages: this.meta[t + T_PAGES]! };
    } finally {
      this.unlock();
    }
  }

  /** The refusals since the last call, one entry per tenant (and the tenants that only had
   * refusals to report are forgotten). */
  takeRefusals(): RefusalReport[] {
    const m = this.meta;
    const reports: RefusalReport[] = [];
    this.lock();
    try {
      for (let i = 0; i < this.rules.tenants; i++) {
        const t = this.tenantBase + i * T_FIELDS;
        if (m[t + T_USED] !== 1 || m[t + T_REFUSED] === 0) continue;
        reports.push({
          tenant: this.names.toString("utf8", i * NAME_BYTES, i * NAME_BYTES + m[t + T_NAME_LENGTH]!),
          host: m[t + T_HOST] === 1,
          refused: m[t + T_REFUSED]!,
          handles: m[t + T_HANDLES]!,
          pages: m[t + T_PAGES]!,
        });
        m[t + T_REFUSED] = 0;
      }
      // Removing shifts entries: only once the scan is over.
      for (let i = 0; i < this.rules.tenants; i++) this.forgetIfIdle(this.tenantBase + i * T_FIELDS);
      if (m[UNRECORDED_REFUSALS]! > 0) {
        reports.push({ tenant: "(tenants beyond the table)", host: false, refused: m[UNRECORDED_REFUSALS]!, handles: 0, pages: 0 });
        m[UNRECORDED_REFUSALS] = 0;
      }
    } finally {
      this.unlock();
    }
    return reports;
  }

  /** For createHandleStoreBuffers: the host's tenant, whose floor is set aside from the start. */
  registerHost(): void {
    const [hashA, hashB] = tenantHash(HOST_TENANT);
    this.lock();
    try {
      const t = this.findTenant(hashA, hashB, HOST_TENANT);
      this.meta[RESERVED_HANDLES]! += this.rules.hostHandles;
      this.meta[RESERVED_PAGES]! += this.rules.hostPages;
      this.meta[ACTIVE_TENANTS]!++;
      if (t < 0) throw new Error("the tenant table has no room for the host");
    } finally {
      this.unlock();
    }
  }

  // ---- accounts (all under the global lock)

  /** What `t`'s floor lacks while it holds `handles` and `pages`: set aside for it alone. A
   * container holding nothing has nothing set aside; the host always has. */
  private shortfall(t: number, handles: number, pages: number): [number, number] {
    const m = this.meta;
    const host = m[t + T_HOST] === 1;
    if (!host && handles === 0) return [0, 0];
    const r = this.rules;
    return [Math.max(0, (host ? r.hostHandles : r.floorHandles) - handles), Math.max(0, (host ? r.hostPages : r.floorPages) - pages)];
  }

  /** 0 when `t` may take `handles` more handles and `pages` more pages, else the errno. */
  private admit(t: number, handles: number, pages: number): number {
    const m = this.meta;
    const r = this.rules;
    const host = m[t + T_HOST] === 1;
    const heldHandles = m[t + T_HANDLES]!;
    const heldPages = m[t + T_PAGES]!;
    if (heldHandles + handles > (host ? r.handles : r.containerHandles) || heldPages + pages > (host ? r.pages : r.containerPages)) {
      return EMFILE;
    }
    const [beforeH, beforeP] = this.shortfall(t, heldHandles, heldPages);
    const [afterH, afterP] = this.shortfall(t, heldHandles + handles, heldPages + pages);
    const reservedH = m[RESERVED_HANDLES]! - beforeH + afterH;
    const reservedP = m[RESERVED_PAGES]! - beforeP + afterP;
    const freeH = r.handles - 1 - m[HANDLES_IN_USE]!;
    const freeP = r.pages - m[PAGES_IN_USE]!;
    // Beyond its floor a tenant borrows, and must leave room for newcomers' floors as well.
    const borrows =
      heldHandles + handles > (host ? r.hostHandles : r.floorHandles) || heldPages + pages > (host ? r.hostPages : r.floorPages);
    const newcomers = borrows ? Math.max(MIN_NEWCOMERS, m[ACTIVE_TENANTS]!) : 0;
    if (freeH - handles < reservedH + newcomers * r.floorHandles) return ENFILE;
    if (freeP - pages < reservedP + newcomers * r.floorPages) return ENFILE;
    return 0;
  }

  /** Books `handles` and `pages` (either may be negative) to `t`. */
  private charge(t: number, handles: number, pages: number): void {
    const m = this.meta;
    const heldHandles = m[t + T_HANDLES]!;
    const heldPages = m[t + T_PAGES]!;
    const [beforeH, beforeP] = this.shortfall(t, heldHandles, heldPages);
    const [afterH, afterP] = this.shortfall(t, heldHandles + handles, heldPages + pages);
    m[RESERVED_HANDLES]! += afterH - beforeH;
    m[RESERVED_PAGES]! += afterP - beforeP;
    if (m[t + T_HOST] !== 1) {
      if (heldHandles === 0 && handles > 0) m[ACTIVE_TENANTS]!++;
      if (heldHandles > 0 && heldHandles + handles === 0) m[ACTIVE_TENANTS]!--;
    }
    m[t + T_HANDLES] = heldHandles + handles;
    m[t + T_PAGES] = heldPages + pages;
    m[HANDLES_IN_USE]! += handles;
    m[PAGES_IN_USE]! += pages;
    this.forgetIfIdle(t);
  }

  /** The tenant's slot (an index into meta); with `create`, made when missing. -1: not there
   * (or, creating, no room). */
  private findTenant(hashA: number, hashB: number, create?: Tenant): number {
    const m = this.meta;
    const slots = this.rules.tenants;
    let i = (hashA >>> 0) % slots;
    for (let probe = 0; probe < slots; probe++, i = (i + 1) % slots) {
      const t = this.tenantBase + i * T_FIELDS;
      if (m[t + T_USED] === 0) {
        if (!create) return -1;
        m.fill(0, t, t + T_FIELDS);
        m[t + T_USED] = 1;
        m[t + T_HASH_A] = hashA;
        m[t + T_HASH_B] = hashB;
        m[t + T_HOST] = create.host ? 1 : 0;
        const name = Buffer.from(create.key, "utf8").subarray(0, NAME_BYTES);
        name.copy(this.names, i * NAME_BYTES);
        m[t + T_NAME_LENGTH] = name.length;
        return t;
      }
      if (m[t + T_HASH_A] === hashA && m[t + T_HASH_B] === hashB) return t;
    }
    return -1;
  }

  /** Removes a container's slot that holds nothing and has nothing to report (linear probing:
   * the entries after it that belong before it move back, so lookups still find them). */
  private forgetIfIdle(t: number): void {
    const m = this.meta;
    if (m[t + T_USED] !== 1 || m[t + T_HOST] === 1 || m[t + T_HANDLES] !== 0 || m[t + T_PAGES] !== 0 || m[t + T_REFUSED] !== 0) return;
    const slots = this.rules.tenants;
    let hole = (t - this.tenantBase) / T_FIELDS;
    m[t + T_USED] = 0;
    for (let j = (hole + 1) % slots; ; j = (j + 1) % slots) {
      const e = this.tenantBase + j * T_FIELDS;
      if (m[e + T_USED] === 0) return;
      const home = (m[e + T_HASH_A]! >>> 0) % slots;
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (stays) continue;
      const to = this.tenantBase + hole * T_FIELDS;
      m.copyWithin(to, e, e + T_FIELDS);
      this.names.copy(this.names, hole * NAME_BYTES, j * NAME_BYTES, (j + 1) * NAME_BYTES);
      m[e + T_USED] = 0;
      hole = j;
    }
  }

  // ---- pages

  /** UTF-8 of `content` into the scratch buffer; returns its length. */
  private encode(content: string): number {
    let length = this.scratch.write(content, 0, "utf8");
    if (length === this.scratch.length) {
      this.scratch = Buffer.allocUnsafe(Math.max(Buffer.byteLength(content) + 1, this.scratch.length * 2));
      length = this.scratch.write(content, 0, "utf8");
    }
    return length;
  }

  /** Under the lock, after admit(): `count` pages off the free list, chained in order. */
  private takePages(count: number): number {
    const m = this.meta;
    const first = m[FREE_PAGE_HEAD]!;
    const last = this.nthPage(first, count - 1);
    m[FREE_PAGE_HEAD] = m[this.pageNextBase + last]!;
    m[this.pageNextBase + last] = -1;
    return first;
  }

  private nthPage(first: number, n: number): number {
    let page = first;
    for (let i = 0; i < n; i++) page = this.meta[this.pageNextBase + page]!;
    return page;
  }

  private lastPage(first: number): number {
    let page = first;
    while (this.meta[this.pageNextBase + page]! >= 0) page = this.meta[this.pageNextBase + page]!;
    return page;
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
    if (first < 0) return;
    const m = this.meta;
    const last = this.lastPage(first);
    m[this.pageNextBase + last] = m[FREE_PAGE_HEAD]!;
    m[FREE_PAGE_HEAD] = first;
  }

  // ---- handles and locks

  private handleIndex(fh: number): number {
    if (fh - this.epochBase < 0 || fh - this.epochBase >= EPOCH_SPAN) return -1;
    const slot = fh % SLOT_SPAN;
    if (slot <= 0 || slot >= this.rules.handles) return -1;
    const h = this.handleBase + slot * H_FIELDS;
    return this.holds(h, fh) ? h : -1;
  }

  /** The slot still holds the file `fh` names (checked again under the handle's lock). */
  private holds(h: number, fh: number): boolean {
    const gen = Math.floor((fh - this.epochBase) / SLOT_SPAN);
    return Atomics.load(this.meta, h + H_GEN) === gen && Atomics.load(this.meta, h + H_LENGTH) !== FREE;
  }

  private lock(): void {
    while (Atomics.compareExchange(this.meta, LOCK, 0, 1) !== 0) Atomics.wait(this.meta, LOCK, 1, 1);
  }

  private unlock(): void {
    Atomics.store(this.meta, LOCK, 0);
    Atomics.notify(this.meta, LOCK, 1);
  }

  private lockHandle(h: number): void {
    while (Atomics.compareExchange(this.meta, h + H_LOCK, 0, 1) !== 0) Atomics.wait(this.meta, h + H_LOCK, 1, 1);
  }

  private unlockHandle(h: number): void {
    Atomics.store(this.meta, h + H_LOCK, 0);
    Atomics.notify(this.meta, h + H_LOCK, 1);
  }
}

function pagesFor(length: number): number {
  return Math.max(1, Math.ceil(length / PAGE_SIZE));
}
