// The per-container tree's invalidation thread (native), on a FIFO in place of the FUSE
// connection: each file queued is invalidated once, at its time, in the order of its time, with
// the kernel's message (FUSE_NOTIFY_INVAL_INODE of the whole inode); a file due before the time
// the thread sleeps until wakes it; a held file waits for its release; what was invalidated is
// said back; the rings go on across their counters' wrap.
import test, { type ExecutionContext } from "ava";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { InvalidationQueue, createInvalidationBuffers, type InvalidationBuffers } from "../../fuse/server/invalidation.js";
import { startInvalidationThread, stopInvalidationThread, wakeInvalidationThread } from "../../fuse/server/invalidator.js";
import { SharedStats, createStatsBuffer } from "../../fuse/server/stats.js";
import { threadsNamed } from "../support/proc-self.js";

const MESSAGE = 40;
const SLOTS = 64;

interface Rig {
  queue: InvalidationQueue;
  buffers: InvalidationBuffers;
  stats: SharedStats;
  /** Messages written so far: [inode, ms since the rig started] each. */
  messages(): Array<{ inode: number; at: number }>;
}

async function rig(t: ExecutionContext, prepare?: (buffers: InvalidationBuffers) => void): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), "procview-invalidation-"));
  const fifo = join(dir, "fuse");
  await execa("mkfifo", [fifo]);
  // Read and write ends in one descriptor: the thread writes its messages, the test reads them.
  const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK);
  const buffers = createInvalidationBuffers(SLOTS);
  prepare?.(buffers);
  const statsBuffer = createStatsBuffer();
  startInvalidationThread(fd, buffers, statsBuffer);
  t.teardown(() => {
    stopInvalidationThread();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const started = Date.now();
  const seen: Array<{ inode: number; at: number }> = [];
  const message = Buffer.alloc(MESSAGE);
  return {
    queue: new InvalidationQueue(buffers, wakeInvalidationThread),
    buffers,
    stats: new SharedStats(statsBuffer),
    messages() {
      for (;;) {
        let got: number;
        try {
          got = readSync(fd, message, 0, MESSAGE, null);
        } catch {
          break;
        }
        if (got !== MESSAGE) throw new Error(`a message of ${got} bytes`);
        if (message.readUInt32LE(0) !== MESSAGE || message.readInt32LE(4) !== 2 || message.readBigUInt64LE(8) !== 0n)
          throw new Error(`not an invalidation: ${message.toString("hex")}`);
        if (message.readBigInt64LE(24) !== 0n || message.readBigInt64LE(32) !== 0n) throw new Error("not the whole inode");
        seen.push({ inode: Number(message.readBigUInt64LE(16)), at: Date.now() - started });
      }
      return seen;
    },
  };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function done(queue: InvalidationQueue): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  queue.takeDone((slot, inode) => out.push([slot, inode]));
  return out;
}

test.serial("each file once, at its time, in the order of the times; counted and said back", async (t) => {
  const r = await rig(t);
  const now = Date.now();
  r.queue.due(3, 1003, now + 150);
  r.queue.due(1, 1001, now + 50);
  r.queue.due(2, 1002, now + 100);
  r.queue.due(1, 1001, now); // queued already: ignored
  t.true(r.queue.isQueued(1));
  await until("three invalidations", () => r.messages().length === 3);
  const messages = r.messages();
  t.deepEqual(
    messages.map((m) => m.inode),
    [1001, 1002, 1003],
  );
  const elapsed = Date.now() - now;
  t.true(messages[0]!.at >= 45 && elapsed >= 145, `times ${messages.map((m) => m.at).join(", ")}`);
  t.is(r.stats.read().invalidations, 3);
  t.deepEqual(done(r.queue), [
    [1, 1001],
    [2, 1002],
    [3, 1003],
  ]);
  t.false(r.queue.isQueued(1), "queued again only by the next serve");
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(r.messages().length, 3, "nothing more");
});

test.serial("a file due before the time the thread sleeps until wakes it", async (t) => {
  const r = await rig(t);
  r.queue.due(0, 500, Date.now() + 60_000);
  await new Promise((resolve) => setTimeout(resolve, 20)); // asleep until a minute from now
  const queued = Date.now();
  r.queue.due(1, 501, queued);
  await until("the early file", () => r.messages().length === 1, 2000);
  t.is(r.messages()[0]!.inode, 501);
  t.true(Date.now() - queued < 1000);
});

test.serial("a held file waits for its release, or for the end of its hold", async (t) => {
  const r = await rig(t);
  const now = Date.now();
  t.true(r.queue.hold(4, now + 60_000));
  r.queue.due(4, 404, now);
  t.true(r.queue.hold(5, now + 80));
  r.queue.due(5, 505, now);
  await until("the file whose hold ended", () => r.messages().length === 1);
  t.is(r.messages()[0]!.inode, 505);
  t.true(Date.now() - now >= 75);
  r.queue.release(4);
  await until("the released file", () => r.messages().length === 2);
  t.is(r.messages()[1]!.inode, 404);
});

for (const [start, what] of [
  [2 ** 31 - 20, "past 2^31 (the Int32 cells read negative)"],
  [-20, "past 2^32 (back to 0)"],
] as const)
  test.serial(`the rings go on across their counters' wrap: ${what}`, async (t) => {
    const r = await rig(t, (buffers) => {
      const control = new Int32Array(buffers.control);
      for (let cell = 0; cell < 4; cell++) control[cell] = start;
    });
    const files = 3 * SLOTS;
    const inodes: number[] = [];
    const said: number[] = [];
    const take = () => said.push(...done(r.queue).map(([, inode]) => inode));
    for (let i = 0; i < files; i++) {
      const slot = i % SLOTS;
      if (i >= SLOTS) await until(`slot ${slot} free`, () => (take(), !r.queue.isQueued(slot)));
      r.queue.due(slot, 10_000 + i, Date.now());
      inodes.push(10_000 + i);
    }
    await until("every file", () => r.messages().length === files);
    await until("every file said back", () => (take(), said.length === files));
    // Each once (files due at the same time go in any order).
    const sorted = (list: number[]) => [...list].sort((a, b) => a - b);
    t.deepEqual(sorted(r.messages().map((m) => m.inode)), inodes);
    t.deepEqual(sorted(said), inodes);
    t.is(new Int32Array(r.buffers.control)[0], (start + files) | 0, "the due counter went across");
  });

test.serial("one thread per process, and start after stop works again", async (t) => {
  const r = await rig(t);
  t.throws(() => startInvalidationThread(0, createInvalidationBuffers(SLOTS), createStatsBuffer()), { message: /runs already/ });
  t.throws(() => createInvalidationBuffers(100), { message: /power of two/ });
  r.queue.due(0, 7, Date.now());
  await until("the file", () => r.messages().length === 1);
  t.pass();
});

/** Threads of this process named as the invalidation thread names itself. */
const invalidationThreads = (): number => threadsNamed("pv-invalidate");

test.serial("the thread ends when its connection is gone (a descriptor it cannot write: EBADF)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "procview-invalidation-"));
  const fifo = join(dir, "fuse");
  await execa("mkfifo", [fifo]);
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.teardown(() => {
    stopInvalidationThread();
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });
  const buffers = createInvalidationBuffers(SLOTS);
  const statsBuffer = createStatsBuffer();
  startInvalidationThread(fd, buffers, statsBuffer);
  t.is(invalidationThreads(), 1, "named in /proc");
  const queue = new InvalidationQueue(buffers, wakeInvalidationThread);
  queue.due(0, 42, Date.now());
  await until("the thread's end", () => invalidationThreads() === 0);
  t.is(new SharedStats(statsBuffer).read().invalidations, 0, "nothing counted as told");
  t.deepEqual(done(queue), [[0, 42]], "the file is said back all the same");
  stopInvalidationThread();
  startInvalidationThread(fd, createInvalidationBuffers(SLOTS), statsBuffer);
  t.is(invalidationThreads(), 1, "another can start after it");
});

test.serial("no wake is lost: files queued while the thread goes to sleep are each invalidated in time", async (t) => {
  const r = await rig(t);
  // Without a wake, the thread would sleep until this one, a minute from now.
  r.queue.due(SLOTS - 1, 99_999, Date.now() + 60_000);
  const rounds = 2000;
  const said = new Set<number>();
  let late = 0;
  for (let i = 0; i < rounds; i++) {
    const slot = i % (SLOTS - 1);
    if (r.queue.isQueued(slot)) await until(`slot ${slot} free`, () => !r.queue.isQueued(slot), 10_000);
    r.queue.takeDone((_slot, inode) => said.add(inode));
    r.messages(); // the FIFO holds 1,638 messages
    // Due now, or within a few ms: both the wake and the timed sleep are crossed many times.
    r.queue.due(slot, i, Date.now() + (i % 7));
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  await until("every file", () => (r.messages(), r.queue.takeDone((_slot, inode) => said.add(inode)), said.size === rounds), 10_000);
  for (const m of r.messages()) if (m.inode === 99_999) late++;
  t.is(late, 0, "the file due in a minute is still waiting");
  t.is(r.stats.read().invalidations, rounds);
});
