// The shared-memory handle store: what OPEN rendered is what READs at any offset get, pages are
// reused, a handle that is stale or from another process never reads someone else's text,
// concurrent readers of one handle never see another handle's pages, and each tenant keeps to
// its share while every other keeps its floor.
import test from "ava";
import { Worker } from "node:worker_threads";
import { HandleStore, HOST_TENANT, createHandleStoreBuffers, PAGE_SIZE, type Tenant } from "../../fuse/server/handle-store.js";
import { shareRules, type ShareLimits, type ShareRules } from "../../fuse/server/share.js";

const A: Tenant = { key: "/tenant-a", host: false };
const B: Tenant = { key: "/tenant-b", host: false };

function rules(overrides: Partial<ShareLimits & ShareRules> = {}): ShareRules {
  const base = shareRules({ handles: 256, pages: 512, containerHandles: 256, containerPages: 512 });
  return { ...base, floorHandles: 4, floorPages: 4, hostHandles: 8, hostPages: 8, ...overrides };
}

function readAll(store: HandleStore, fh: number, chunk: number, from = 0): string {
  const parts: Buffer[] = [];
  for (let offset = from; ;) {
    const out = Buffer.alloc(chunk);
    const n = store.read(fh, offset, chunk, out, 0);
    if (n <= 0) break;
    parts.push(out.subarray(0, n));
    offset += n;
  }
  return Buffer.concat(parts).toString();
}

test("content spanning several pages reads back whole at odd chunk sizes", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules()));
  const text = Array.from({ length: 900 }, (_, i) => `line ${i}: ${"x".repeat(i % 37)}`).join("\n") + "\n";
  t.true(Buffer.byteLength(text) > 3 * PAGE_SIZE);
  const fh = store.store(text, A);
  t.true(fh > 0);
  for (const chunk of [1, 7, 4095, 4096, 4097, 65536]) t.is(readAll(store, fh, chunk), text, `chunk ${chunk}`);
  t.is(readAll(store, fh, 100, 5000), text.slice(5000));
  t.is(store.read(fh, Buffer.byteLength(text) + 10, 10, Buffer.alloc(10), 0), 0);
});

test("non-ASCII text is stored as UTF-8", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules()));
  const fh = store.store("model name\t: Intel® Xeon™ — 2 cœurs\n", A);
  t.is(readAll(store, fh, 3), "model name\t: Intel® Xeon™ — 2 cœurs\n");
});

test("a full store says ENFILE, and released pages and handles are used again", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules({ pages: 8, hostPages: 4, containerPages: 8 })));
  const big = "y".repeat(2 * PAGE_SIZE);
  const a = store.store(big, A);
  const b = store.store(big, A);
  t.true(a > 0 && b > 0);
  t.is(store.store("z", A), -23, "no page left but the host's");
  store.release(a);
  const c = store.store("after release\n", A);
  t.true(c > 0);
  t.is(readAll(store, c, 64), "after release\n");
  t.is(store.openHandles, 2);
});

test("a released handle, or one from another process's store, reads EBADF, never another file", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules(), 7));
  const first = store.store("first\n", A);
  store.release(first);
  const second = store.store("second\n", A);
  t.is(store.read(first, 0, 100, Buffer.alloc(100), 0), -9, "stale generation");
  t.is(readAll(store, second, 100), "second\n");
  const successor = new HandleStore(createHandleStoreBuffers(rules(), 8));
  t.is(successor.read(second, 0, 100, Buffer.alloc(100), 0), -9, "other epoch");
});

test("replace rewrites an open handle in place, growing and shrinking its pages on its tenant's account", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules()));
  const fh = store.store("a".repeat(2 * PAGE_SIZE), A);
  t.false(store.wasRead(fh));
  readAll(store, fh, 4096);
  t.true(store.wasRead(fh));
  t.deepEqual(store.usage(A), { handles: 1, pages: 2 });
  for (let i = 0; i < 10; i++) t.is(store.replace(fh, `version ${i}\n`), 0);
  t.is(readAll(store, fh, 5), "version 9\n");
  t.deepEqual(store.usage(A), { handles: 1, pages: 1 });
  t.is(store.replace(fh, "b".repeat(3 * PAGE_SIZE + 1)), 0);
  t.is(readAll(store, fh, 65536), "b".repeat(3 * PAGE_SIZE + 1));
  t.deepEqual(store.usage(A), { handles: 1, pages: 4 });
  t.is(store.replace(store.store("x", A) + 1, "nope"), -9);
  store.release(fh);
  t.deepEqual(store.usage(A), { handles: 1, pages: 1 });
});

test("a tenant at its share gets EMFILE while another tenant and the host still open", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules({ containerHandles: 10, containerPages: 20 })));
  const held: number[] = [];
  for (;;) {
    const fh = store.store("meminfo of A\n", A);
    if (fh < 0) {
      t.is(fh, -24);
      break;
    }
    held.push(fh);
  }
  t.is(held.length, 10);
  t.true(store.store("meminfo of B\n", B) > 0);
  t.true(store.store("meminfo of the host\n", HOST_TENANT) > 0);
  // Pages count too: two 12-page files exceed A's 20 pages even below its file count.
  for (const fh of held) store.release(fh);
  t.true(store.store("c".repeat(12 * PAGE_SIZE), A) > 0);
  t.is(store.store("c".repeat(12 * PAGE_SIZE), A), -24);
});

test("whatever one tenant borrows, every other tenant keeps its floor and the host its reserve", (t) => {
  // 64 handles: the host's reserve is 8, each container's floor 4, and a borrower leaves room
  // for 16 newcomers' floors (64 handles): a borrower gets nothing beyond its floor here, and
  // with a bigger store exactly what is left.
  const small = new HandleStore(createHandleStoreBuffers(rules({ handles: 64, pages: 64 })));
  let a = 0;
  while (small.store("A\n", A) > 0) a++;
  t.is(a, 4, "A keeps to its floor when the store has nothing to lend");

  const big = new HandleStore(createHandleStoreBuffers(rules({ handles: 200, pages: 200, containerHandles: 1000, containerPages: 1000 })));
  let borrowed = 0;
  let fh: number;
  while ((fh = big.store("A\n", A)) > 0) borrowed++;
  t.is(fh, -23, "the store, not A's share, stops A");
  // 199 usable − 8 for the host − 16 newcomers × 4 = 127.
  t.is(borrowed, 127);
  for (let tenant = 0; tenant < 16; tenant++) {
    for (let i = 0; i < 4; i++) t.true(big.store("x\n", { key: `/newcomer-${tenant}`, host: false }) > 0, `newcomer ${tenant}, file ${i}`);
  }
  for (let i = 0; i < 8; i++) t.true(big.store("host\n", HOST_TENANT) > 0, `host file ${i}`);
});

test("refusals are reported once per tenant, with their count and what the tenant held", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules({ containerHandles: 2 })));
  store.store("1", A);
  store.store("2", A);
  for (let i = 0; i < 5; i++) t.is(store.store("3", A), -24);
  t.is(store.store("3", B) > 0, true);
  const reports = store.takeRefusals();
  t.deepEqual(reports, [{ tenant: "/tenant-a", host: false, refused: 5, handles: 2, pages: 2 }]);
  t.deepEqual(store.takeRefusals(), []);
});

test("a tenant that holds nothing is forgotten; many tenants come and go", (t) => {
  const store = new HandleStore(createHandleStoreBuffers(rules()));
  for (let round = 0; round < 50; round++) {
    const fhs = Array.from({ length: 20 }, (_, i) => store.store(`${round}/${i}`, { key: `/c-${round}-${i}`, host: false }));
    t.true(fhs.every((fh) => fh > 0));
    for (const fh of fhs) store.release(fh);
  }
  t.is(store.openHandles, 0);
  t.is(store.pagesInUse, 0);
  t.is(store.usage({ key: "/c-3-4", host: false }), null);
});

// Threads read one handle at offset 0 and elsewhere while another rewrites it from 0 (what a
// reader coming back to 0 does) and a third fills and frees another tenant's handles: every
// byte a reader gets must be one of the handle's own texts.
test("concurrent reads of a handle being rewritten never see another tenant's pages", async (t) => {
  const buffers = createHandleStoreBuffers(rules({ handles: 256, pages: 1024, containerHandles: 256, containerPages: 1024 }));
  const store = new HandleStore(buffers);
  const own = ["A".repeat(3 * PAGE_SIZE + 100), "a".repeat(PAGE_SIZE + 7)];
  const fh = store.store(own[0]!, A);
  const module = new URL("../../fuse/server/handle-store.js", import.meta.url).href;
  const code = `
    const { workerData, parentPort } = require("node:worker_threads");
    import(${JSON.stringify(module)}).then(({ HandleStore }) => {
      const { buffers, fh, role, own } = workerData;
      const store = new HandleStore(buffers);
      const until = Date.now() + 1500;
      let reads = 0, foreign = 0, seen = "";
      const out = Buffer.alloc(65536);
      while (Date.now() < until) {
        if (role === "rewriter") { store.replace(fh, own[reads++ % 2]); continue; }
        if (role === "other") { const b = store.store("B".repeat(2 * 4096 + 5), { key: "/tenant-b", host: false }); if (b > 0) store.release(b); continue; }
        const offset = reads % 3 === 0 ? 0 : Math.floor(Math.random() * 16000);
        const n = store.read(fh, offset, 1 + Math.floor(Math.random() * 9000), out, 0);
        reads++;
        const text = out.toString("latin1", 0, Math.max(0, n));
        if (/[^Aa]/.test(text)) { foreign++; seen = text.slice(0, 40); }
      }
      parentPort.postMessage({ reads, foreign, seen });
    });
  `;
  const run = (role: string) =>
    new Promise<{ reads: number; foreign: number; seen: string }>((resolve, reject) => {
      const worker = new Worker(code, { eval: true, workerData: { buffers, fh, role, own } });
      worker.once("message", resolve);
      worker.once("error", reject);
    });
  const results = await Promise.all([run("reader"), run("reader"), run("rewriter"), run("other")]);
  const readers = results.slice(0, 2);
  t.log(`reads: ${readers.map((r) => r.reads).join(", ")}`);
  t.true(readers.every((r) => r.reads > 1000));
  t.deepEqual(
    readers.map((r) => r.foreign),
    [0, 0],
    readers.map((r) => r.seen).join(" | "),
  );
});
