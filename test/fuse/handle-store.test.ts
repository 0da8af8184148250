// The shared-memory handle store: what OPEN rendered is what READs at any offset get, pages are
// reused, and a handle that is stale or from another process never reads someone else's text.
import test from "ava";
import { HandleStore, createHandleStoreBuffers, PAGE_SIZE } from "../../fuse/server/handle-store.js";

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
  const store = new HandleStore(createHandleStoreBuffers({ pages: 16, handles: 8 }));
  const text = Array.from({ length: 900 }, (_, i) => `line ${i}: ${"x".repeat(i % 37)}`).join("\n") + "\n";
  t.true(Buffer.byteLength(text) > 3 * PAGE_SIZE);
  const fh = store.store(text);
  t.true(fh > 0);
  for (const chunk of [1, 7, 4095, 4096, 4097, 65536]) t.is(readAll(store, fh, chunk), text, `chunk ${chunk}`);
  t.is(readAll(store, fh, 100, 5000), text.slice(5000));
  t.is(store.read(fh, Buffer.byteLength(text) + 10, 10, Buffer.alloc(10), 0), 0);
});

test("non-ASCII text is stored as UTF-8", (t) => {
  const store = new HandleStore(createHandleStoreBuffers({ pages: 4, handles: 4 }));
  const fh = store.store("model name\t: Intel® Xeon™ — 2 cœurs\n");
  t.is(readAll(store, fh, 3), "model name\t: Intel® Xeon™ — 2 cœurs\n");
});

test("a full store says ENFILE, and released pages and handles are used again", (t) => {
  const store = new HandleStore(createHandleStoreBuffers({ pages: 4, handles: 8 }));
  const big = "y".repeat(2 * PAGE_SIZE);
  const a = store.store(big);
  const b = store.store(big);
  t.true(a > 0 && b > 0);
  t.is(store.store("z"), -23, "no page left");
  store.release(a);
  const c = store.store("after release\n");
  t.true(c > 0);
  t.is(readAll(store, c, 64), "after release\n");
  t.is(store.openHandles, 2);
});

test("a released handle, or one from another process's store, reads EBADF, never another file", (t) => {
  const buffers = createHandleStoreBuffers({ pages: 8, handles: 4 }, 7);
  const store = new HandleStore(buffers);
  const first = store.store("first\n");
  store.release(first);
  const second = store.store("second\n");
  t.is(store.read(first, 0, 100, Buffer.alloc(100), 0), -9, "stale generation");
  t.is(readAll(store, second, 100), "second\n");
  const successor = new HandleStore(createHandleStoreBuffers({ pages: 8, handles: 4 }, 8));
  t.is(successor.read(second, 0, 100, Buffer.alloc(100), 0), -9, "other epoch");
});

test("replace gives an open handle new text and frees the old pages", (t) => {
  const store = new HandleStore(createHandleStoreBuffers({ pages: 3, handles: 4 }));
  const fh = store.store("a".repeat(2 * PAGE_SIZE));
  t.false(store.wasRead(fh));
  readAll(store, fh, 4096);
  t.true(store.wasRead(fh));
  for (let i = 0; i < 10; i++) t.is(store.replace(fh, `version ${i}\n`), 0, "old pages come back each time");
  t.is(readAll(store, fh, 5), "version 9\n");
  t.is(store.replace(store.store("x") + 1, "nope"), -9);
});
