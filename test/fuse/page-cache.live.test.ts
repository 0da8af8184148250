// The per-container tree (<mountpoint>/containers/<id>/), served from the kernel's page cache: a
// real mount, real cgroups, containers registered the way the hook (by init) and the NRI plugin
// (by cgroups path) do, C readers on every read path (test/support/cache-reader.c).
import test from "ava";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { registerContainer, startProcview, type RunningProcview } from "../../testbed/procview.js";
import {
  createCgroup,
  inPrivateMountNamespace,
  JOIN_THEN_EXEC,
  readKb,
  runInCgroup,
  startInCgroup,
  type TestCgroup,
} from "../../testbed/cgroups.js";
import { waitFor } from "../../testbed/wait.js";
import { countIn, restAfter } from "../support/reader-output.js";
import { threadsNamed } from "../support/proc-self.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { DEFAULT_RUNTIME_DIR } from "../../core/paths.js";
import type { KeeperStatus } from "../../fuse/keeper/status.js";
import { compileTestProgram } from "../support/c-program.js";

const MiB = 1024 * 1024;

let service: RunningProcview;
let reader = "";
let scratch = "";
const groups: TestCgroup[] = [];
const sleepers: ResultPromise[] = [];

test.before(async () => {
  scratch = mkdtempSync(join(tmpdir(), "procview-page-cache-"));
  reader = join(scratch, "cache-reader");
  await compileTestProgram("cache-reader.c", reader);
  service = await startProcview();
});
test.after.always(async () => {
  for (const sleeper of sleepers) sleeper.kill("SIGKILL");
  await Promise.allSettled(sleepers);
  await service?.stop();
  for (const group of groups) await group.remove();
});

/** A container: a cgroup with limits and a process in it (its init), registered by that pid. */
async function container(id: string, memoryMiB: number, cpus: string): Promise<TestCgroup> {
  const group = createCgroup({ memoryLimitBytes: memoryMiB * MiB, cpus, unified: true });
  groups.push(group);
  const sleeper = startInCgroup(group.procsFiles(), ["sleep", "600"]);
  sleepers.push(sleeper);
  await waitFor("the container's init to be in its cgroup", () => readFileSync(join(group.dir("memory"), "cgroup.procs"), "utf8").trim());
  registerContainer(service.mountPoint, id, { pid: sleeper.pid! });
  return group;
}

const file = (id: string, relative: string) => join(service.mountPoint, "containers", id, relative);
const status = (): Promise<KeeperStatus> => keeperStatus(service.mountPoint, DEFAULT_RUNTIME_DIR);

/** The keeper's counters once nothing moves them (the serving process reports every second). */
async function settledStatus(): Promise<KeeperStatus> {
  let last = await status();
  return waitFor(
    "the counters to settle",
    async () => {
      await new Promise((r) => setTimeout(r, 1200));
      const now = await status();
      // Not treeRequests: the keeper's watchdog asks the tree's statfs every 100 ms.
      const same = now.fills === last.fills && now.invalidations === last.invalidations;
      last = now;
      return same && now;
    },
    { timeoutMs: 30_000 },
  );
}

interface ReaderResult {
  reads: number;
  good: number;
  bad: number;
  errors: number;
  retried: number;
  texts: number;
  firstBad: string;
}

function parseReader(line: string): ReaderResult {
  const field = (name: string): number => countIn(line, name);
  return {
    reads: field("reads"),
    good: field("good"),
    bad: field("bad"),
    errors: field("errors"),
    retried: field("retried"),
    texts: field("texts"),
    firstBad: restAfter(line, "first_bad"),
  };
}

/**
 * What a text that is none of the candidates is made of, or why it is not made of them: every
 * byte is the byte at that offset of a candidate long enough, and it ends where one ends, or past
 * the end of the shortest (a reader whose reads of one pass straddled a new version: it goes on in
 * the new one, or finds its end behind it). Never a byte of anything else: no padding, nothing of
 * another container, and never cut short of every candidate's end.
 */
function madeOfCandidates(text: Buffer, candidates: Buffer[]): string | null {
  const shortest = Math.min(...candidates.map((c) => c.length));
  if (text.length < shortest && !candidates.some((c) => c.length === text.length)) return `cut at ${text.length} bytes`;
  for (let i = 0; i < text.length; i++) {
    if (!candidates.some((c) => i < c.length && c[i] === text[i])) return `byte ${i} (${text[i]}) is in no candidate there`;
  }
  return null;
}

async function readAll(
  modes: string[],
  seconds: number,
  path: string,
  candidates: string[],
  cgroup: TestCgroup,
): Promise<Map<string, { result: ReaderResult; dumps: string }>> {
  const runs = modes.map(async (mode) => {
    const dumps = join(scratch, `${mode}-${Date.now()}`);
    mkdirSync(dumps);
    const out = await runInCgroup(
      cgroup.procsFiles(),
      ["env", `CACHE_READER_DUMP=${dumps}`, reader, mode, String(seconds), path, ...candidates],
      {
        timeoutMs: (seconds + 60) * 1000,
      },
    );
    return [mode, { result: parseReader(out), dumps }] as const;
  });
  return new Map(await Promise.all(runs));
}

test.serial(
  "repeated reads of a container's file are answered from the page cache: no OPEN, FLUSH or RELEASE, and procview renders it once per --cache-ms",
  async (t) => {
    await container("cached-1", 256, "0");
    const reading = createCgroup({ memoryLimitBytes: 512 * MiB });
    groups.push(reading);
    const path = file("cached-1", "proc/meminfo");
    writeFileSync(join(scratch, "meminfo-1"), readFileSync(path));
    const before = await settledStatus();
    const started = Date.now();
    const { result } = (await readAll(["read"], 3, path, [join(scratch, "meminfo-1")], reading)).get("read")!;
    const elapsed = Date.now() - started;
    const after = await settledStatus();
    const requests = after.treeRequests - before.treeRequests;
    const fills = after.fills - before.fills;
    t.log(
      `${result.reads} reads in ${elapsed} ms: ${requests} requests, ${fills} renderings, ${after.invalidations - before.invalidations} invalidations`,
    );
    t.true(result.reads >= 10_000, `${result.reads} reads`);
    t.is(result.errors, 0, result.firstBad);
    // --cache-ms is 100: one rendering per interval at most, and a few requests each (the
    // attributes, the page, the page again when its size had to be raised; the keeper's watchdog
    // also asks the tree's statfs every 100 ms, settling included): a read itself asks nothing.
    const intervals = Math.ceil(elapsed / 100) + 2;
    t.true(fills <= intervals, `${fills} renderings for ${intervals} intervals`);
    t.true(requests * 1000 < result.reads, `${requests} requests for ${result.reads} reads`);
    t.true(after.invalidations > before.invalidations, "every file filled is invalidated");
  },
);

test.serial(
  "a container's file holds that container's view whoever reads it: the host, another container, and the container through a bind over /proc/meminfo",
  async (t) => {
    await container("mine", 200, "0");
    const other = createCgroup({ memoryLimitBytes: 75 * MiB, cpus: "0-1" });
    groups.push(other);
    // The host reads first (and so fills the page cache), then another container.
    t.is(readKb(readFileSync(file("mine", "proc/meminfo"), "utf8"), "MemTotal"), 200 * 1024);
    t.is(readKb(await runInCgroup(other.procsFiles(), ["cat", file("mine", "proc/meminfo")]), "MemTotal"), 200 * 1024);
    t.is(
      readKb(await runInCgroup(other.procsFiles(), ["cat", join(service.mountPoint, "proc/meminfo")]), "MemTotal"),
      75 * 1024,
      "the top level stays per reader",
    );
    // A process of the container, in a mount namespace of its own with the file bound as the hook binds it.
    const bound = await runInCgroup(
      groups.at(-2)!.procsFiles(),
      inPrivateMountNamespace(
        'mount --bind "$1" /proc/meminfo && busybox cat /proc/meminfo && cat /proc/meminfo',
        "sh",
        file("mine", "proc/meminfo"),
      ),
    );
    t.deepEqual(
      bound.split("\n").filter((l) => l.startsWith("MemTotal:")),
      ["MemTotal:         204800 kB", "MemTotal:         204800 kB"],
    );
    t.is(readFileSync(file("mine", "sys/devices/system/cpu/online"), "utf8"), "0\n");
  },
);

test.serial(
  "a container registered by its cgroups path (the NRI plugin, before it runs) shows its view once a process runs there",
  async (t) => {
    const group = createCgroup({ memoryLimitBytes: 96 * MiB });
    groups.push(group);
    registerContainer(service.mountPoint, "by-path", { cgroupsPath: group.path });
    // Looked up before anything runs there (runc binds it at create): it exists, its size is asked again later.
    t.deepEqual(readdirSync(join(service.mountPoint, "containers", "by-path")).sort(), ["proc", "sys"]);
    const seen = await runInCgroup(group.procsFiles(), ["busybox", "cat", file("by-path", "proc/meminfo")]);
    t.is(readKb(seen, "MemTotal"), 96 * 1024);
  },
);

test.serial(
  "a file bound while its container (registered by cgroups path) has no process yet reads whole through sendfile once one runs there",
  async (t) => {
    // As runc under containerd: the NRI plugin registers the cgroups path at CreateContainer,
    // runc binds the file (its lookup finds no container yet), and the container reads it later
    // through the bind, which keeps the kernel's inode from that first lookup.
    const group = createCgroup({ memoryLimitBytes: 160 * MiB, cpus: "0" });
    groups.push(group);
    registerContainer(service.mountPoint, "bound-early", { cgroupsPath: group.path });
    const target = join(scratch, "bound-early-meminfo");
    writeFileSync(target, "");
    // Bound from outside the cgroup; then the shell joins it and busybox cat (sendfile) reads.
    const script = `mount --bind "$1" "$2" && shift && shift && ${JOIN_THEN_EXEC}`;
    const [command, ...args] = inPrivateMountNamespace(
      script,
      "sh",
      file("bound-early", "proc/meminfo"),
      target,
      ...group.procsFiles(),
      "--",
      "busybox",
      "cat",
      target,
    );
    const catted = await execa(command!, args, { reject: false, timeout: 20_000 });
    t.is(catted.exitCode, 0, catted.stderr);
    t.is(readKb(catted.stdout, "MemTotal"), 160 * 1024);
  },
);

test.serial(
  "sendfile, splice, read, small reads, mmap and kept descriptors while the file's length changes: whole texts, never cut at a stale size or padded",
  async (t) => {
    const group = await container("flipping", 300, "0");
    const cpuset = join(group.dir("cpuset"), "cpuset.cpus");
    const reading = createCgroup({ memoryLimitBytes: 512 * MiB });
    groups.push(reading);
    const modes = ["read", "small", "sendfile", "splice", "keep-read", "keep-sendfile", "mmap"];
    for (const relative of ["sys/devices/system/cpu/online", "proc/cpuinfo"]) {
      const path = file("flipping", relative);
      const candidates: string[] = [];
      for (const cpus of ["0", "0-1"]) {
        writeFileSync(cpuset, cpus);
        const text = await waitFor(`cpuset ${cpus} to show`, () => {
          const now = readFileSync(path, "utf8");
          return (relative.endsWith("online") ? now === `${cpus}\n` : now.split("processor").length - 1 === (cpus === "0" ? 1 : 2)) && now;
        });
        const candidate = join(scratch, `${relative.replace(/\//g, "_")}-${cpus}`);
        writeFileSync(candidate, text);
        candidates.push(candidate);
      }
      t.not(readFileSync(candidates[0]!).length, readFileSync(candidates[1]!).length, "the two texts differ in length");
      let flipping = true;
      const flips = (async () => {
        let n = 0;
        while (flipping) {
          writeFileSync(cpuset, n++ % 2 === 0 ? "0" : "0-1");
          await new Promise((r) => setTimeout(r, 37 + (n % 3) * 11));
        }
        return n;
      })();
      const results = await readAll(modes, 4, path, candidates, reading);
      flipping = false;
      const flipped = await flips;
      const texts = candidates.map((c) => readFileSync(c));
      for (const [mode, { result, dumps }] of results) {
        t.log(
          `${relative} ${mode}: ${result.reads} reads, ${result.bad} straddled two versions, ${result.retried} retried (EINTR), ${flipped} flips`,
        );
        // A mapping whose page is read again while the size changes may get SIGBUS once (the
        // kernel retries a page fault's read once); every other path never fails.
        if (mode === "mmap") t.true(result.errors * 1000 < result.reads, `${relative} mmap: ${result.errors} SIGBUS`);
        else t.is(result.errors, 0, `${relative} ${mode}: ${result.firstBad}`);
        t.true(result.reads >= 1000, `${relative} ${mode}: ${result.reads} reads`);
        t.is(result.texts, 2, `${relative} ${mode}: both lengths were read`);
        for (const name of readdirSync(dumps)) {
          const text = readFileSync(join(dumps, name));
          // A mapping made at the size fstat gave sees the page of a shorter version past its end as
          // zeros (the kernel's own /proc files cannot be mapped at all); every other path gets text.
          const trimmed = mode === "mmap" ? text.subarray(0, text.indexOf(0) < 0 ? text.length : text.indexOf(0)) : text;
          const why = mode === "mmap" && trimmed.length < text.length ? madeOfPrefix(trimmed, texts) : madeOfCandidates(trimmed, texts);
          t.is(why, null, `${relative} ${mode} ${name}: ${JSON.stringify(trimmed.toString().slice(0, 80))}…`);
        }
        // A pass that straddles a new version is the exception, not the rule.
        t.true(result.bad * 1000 < result.reads, `${relative} ${mode}: ${result.bad} of ${result.reads}`);
      }
    }
  },
);

/** A mapping's text cut where a shorter version ended: a prefix made of the candidates' bytes. */
function madeOfPrefix(text: Buffer, candidates: Buffer[]): string | null {
  for (let i = 0; i < text.length; i++) {
    if (!candidates.some((c) => i < c.length && c[i] === text[i])) return `byte ${i} (${text[i]}) is in no candidate there`;
  }
  return candidates.some((c) => c.length === text.length) ? null : `${text.length} bytes is no candidate's length`;
}

test.serial("a changed limit shows at the next read after --cache-ms, for a reader keeping the file open too", async (t) => {
  const group = await container("changing", 128, "0");
  const limit = join(group.dir("memory"), "memory.limit_in_bytes");
  const path = file("changing", "proc/meminfo");
  t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), 128 * 1024);
  writeFileSync(limit, String(160 * MiB));
  const changed = Date.now();
  await waitFor("the new limit to show", () => readKb(readFileSync(path, "utf8"), "MemTotal") === 160 * 1024);
  t.log(`shown after ${Date.now() - changed} ms (--cache-ms 100)`);
  // top's way: one descriptor, read again from the start.
  const script = `
    const fs = require("fs");
    const fd = fs.openSync(process.argv[1], "r");
    const read = () => { const b = Buffer.alloc(65536); return b.toString("utf8", 0, fs.readSync(fd, b, 0, b.length, 0)); };
    const first = read();
    fs.writeFileSync(process.argv[2], String(192 * 1024 * 1024));
    const until = Date.now() + 10000;
    let now = read();
    while (!now.includes(" 196608 kB") && Date.now() < until) now = read();
    console.log(first.split("\\n")[0].replace(/ +/g, " ") + " -> " + now.split("\\n")[0].replace(/ +/g, " "));
  `;
  t.is((await execa(process.execPath, ["-e", script, path, limit])).stdout, "MemTotal: 163840 kB -> MemTotal: 196608 kB");
});

test.serial(
  "a file rendered again while its invalidation was queued is invalidated at its own time: the first read after a pause is fresh",
  async (t) => {
    const group = await container("rendered-again", 128, "0");
    const limit = join(group.dir("memory"), "memory.limit_in_bytes");
    const path = file("rendered-again", "proc/meminfo");
    const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    for (let round = 0; round < 3; round++) {
      const before = 128 + 16 * round;
      writeFileSync(limit, String(before * MiB));
      await waitFor("the limit to show", () => readKb(readFileSync(path, "utf8"), "MemTotal") === before * 1024);
      await pause(300); // the kernel dropped the file: the next request renders it
      // Its attributes (a rendering nobody reads, queued for invalidation), then, more than 10 ms
      // later, its pages: rendered again, while the first rendering's invalidation is queued.
      statSync(path);
      await pause(40);
      t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), before * 1024);
      // Requests that take the invalidation thread's news, past the first rendering's time.
      const until = Date.now() + 250;
      while (Date.now() < until) {
        statfsSync(join(service.mountPoint, "containers"));
        await pause(2);
      }
      writeFileSync(limit, String((before + 8) * MiB));
      await pause(300); // three times --cache-ms without a read
      t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), (before + 8) * 1024, `round ${round}: the first read after the pause`);
    }
  },
);

test.serial(
  "invalidation follows what is read: 200 registered containers with nothing read cost nothing; three files read, three invalidated",
  async (t) => {
    const group = createCgroup({ memoryLimitBytes: 64 * MiB });
    groups.push(group);
    for (let i = 0; i < 200; i++) registerContainer(service.mountPoint, `idle-${i}`, { cgroupsPath: group.path });
    const before = await settledStatus();
    const idle = await settledStatus();
    t.is(idle.invalidations - before.invalidations, 0, "nothing read, nothing to invalidate");
    t.is(idle.fills - before.fills, 0);
    const sleeper = startInCgroup(group.procsFiles(), ["sleep", "600"]);
    sleepers.push(sleeper);
    await waitFor("a process in the cgroup", () => readFileSync(join(group.dir("memory"), "cgroup.procs"), "utf8").trim());
    for (const id of ["idle-3", "idle-99", "idle-150"]) t.regex(readFileSync(file(id, "proc/uptime"), "utf8"), /^\d+\.\d\d \d+\.\d\d\n$/);
    const after = await waitFor("the three files to be invalidated", async () => {
      const now = await settledStatus();
      return now.invalidations - idle.invalidations >= 3 && now;
    });
    t.is(after.invalidations - idle.invalidations, 3);
    t.is(after.fills - idle.fills, 3);
  },
);

test.serial(
  "after a kill -9 of the serving process the successor forgets what the kernel kept: fresh numbers, whole texts, no reader fails",
  async (t) => {
    const group = await container("surviving", 180, "0");
    const limit = join(group.dir("memory"), "memory.limit_in_bytes");
    const reading = createCgroup({ memoryLimitBytes: 512 * MiB });
    groups.push(reading);
    const path = file("surviving", "proc/meminfo");
    t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), 180 * 1024);
    // meminfo changes all the time: what counts here is that every read succeeds.
    const readers = readAll(["read", "sendfile", "keep-read"], 6, path, [path], reading).catch((err: unknown) => err);
    try {
      for (let round = 0; round < 2; round++) {
        const before = (await status()).servingPid;
        t.truthy(before);
        process.kill(before!, "SIGKILL");
        await waitFor("a successor to serve", async () => {
          const now = (await status()).servingPid;
          return now !== null && now !== before;
        });
      }
      // Changed while the kernel still holds the old text: the successor's first reads show it.
      writeFileSync(limit, String(220 * MiB));
      await waitFor("the new limit after the takeover", () => readKb(readFileSync(path, "utf8"), "MemTotal") === 220 * 1024);
    } finally {
      await readers;
    }
    const results = await readers;
    t.false(results instanceof Error, String(results));
    for (const [mode, { result }] of results as Map<string, { result: ReaderResult }>) {
      t.log(`${mode}: ${result.reads} reads, ${result.retried} retried (EINTR), ${result.errors} errors`);
      t.is(result.errors, 0, `${mode}: ${result.firstBad}`);
      t.true(result.reads > 0);
    }
  },
);

test.serial(
  "a file whose size was raised while its last rendering's invalidation was due reads whole, never padded with NUL bytes: sendfile and read, by a reader that waits for a busy CPU",
  async (t) => {
    // The sequence that padded reads: a stat renders the file (its size in the kernel), the
    // cgroup's cpuset changes its length, and a reader opens it once that rendering's
    // invalidation is due (100-220 ms later, --cache-ms 100): the new rendering's first read
    // raises the size and lowers it again with a short answer, which the kernel applies only
    // when the reader's task runs again. An invalidation landing first kept the raised size, and
    // the reader got the text and NUL bytes up to a page. A reader that shares its CPU with two
    // busy loops runs late after each answer, which made that happen in 3-40 % of the reads.
    const group = await container("padded-0", 256, "0");
    const cpuset = join(group.dir("cpuset"), "cpuset.cpus");
    const pid = Number(
      readFileSync(join(group.dir("memory"), "cgroup.procs"), "utf8")
        .trim()
        .split("\n")[0],
    );
    const busy = [0, 1].map(() => execa("taskset", ["-c", "1", "/bin/sh", "-c", "while :; do :; done"], { reject: false }));
    const rounds = 150;
    const wrong = new Map<string, number>();
    try {
      for (let round = 0; round < rounds; round++) {
        const id = `padded-${round}`;
        if (round > 0) registerContainer(service.mountPoint, id, { pid });
        const path = file(id, "sys/devices/system/cpu/online");
        statSync(path);
        writeFileSync(cpuset, round % 2 === 0 ? "0-1" : "0");
        // Not a wait for a condition: the read must come while the stat's rendering is due.
        await new Promise((resolve) => setTimeout(resolve, 100 + ((round * 37) % 120)));
        const reader = round % 3 === 2 ? ["cat", path] : ["busybox", "cat", path];
        const { stdout } = await execa("taskset", ["-c", "1", ...reader], { encoding: "buffer", stripFinalNewline: false });
        const text = Buffer.from(stdout).toString("latin1");
        if (text !== "0\n" && text !== "0-1\n") {
          const what = `${reader[0]}: ${JSON.stringify(text.slice(0, 8))}, ${text.length} bytes, ${text.split("\0").length - 1} NUL`;
          wrong.set(what, (wrong.get(what) ?? 0) + 1);
        }
      }
    } finally {
      for (const loop of busy) loop.kill("SIGKILL");
      await Promise.all(busy);
    }
    t.deepEqual([...wrong], [], `of ${rounds} reads`);
  },
);

/** Threads of process `pid` named as the invalidation thread names itself. */
const invalidationThreads = (pid: number): number => threadsNamed("pv-invalidate", pid);

test.serial("the invalidation thread runs in the serving process only: a standby starts one when it serves", async (t) => {
  const ready = await waitFor("a standby ready to take over", async () => {
    const now = await status();
    return now.standbyReady && now.servingPid !== null && now.standbyPid !== null && now;
  });
  t.is(invalidationThreads(ready.servingPid!), 1, "the serving process");
  t.is(invalidationThreads(ready.standbyPid!), 0, "the standby");
  process.kill(ready.servingPid!, "SIGKILL");
  await waitFor("the standby to serve", async () => (await status()).servingPid === ready.standbyPid);
  await waitFor("its invalidation thread", () => invalidationThreads(ready.standbyPid!) === 1);
  t.pass();
});
