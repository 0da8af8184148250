// procview must survive its own restart: readers in real cgroups keep reading, with the right
// numbers, while the serving process is killed, stopped or replaced, while the mount passes from
// one keeper to the next, and a container started before a full stop and restart of the whole
// service gets its views back.
import { CONTAINERS_SOURCE, VIEW_FILES } from "../../core/layout.js";
import test from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { registerContainer, startProcview, PROCVIEW_CLI, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { readStatus, type KeeperStatus } from "../../fuse/keeper/status.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { mountsAt } from "../../core/mountinfo.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { waitFor } from "../../testbed/wait.js";
import { hooksDir } from "../support/hooks-dir.js";
import { PODMAN_BASE_ARGS } from "../../testbed/podman.js";
import { DEFAULT_RUNTIME_DIR, statusPath, registryDir } from "../../core/paths.js";
import { connectionsRecord } from "../../fuse/keeper/restore.js";
import { compileTestProgram } from "../support/c-program.js";

const READERS = 20;
const MiB = 1024 * 1024;

let readerBinary = "";
const groups: TestCgroup[] = [];

test.before(async () => {
  readerBinary = join(mkdtempSync(join(tmpdir(), "procview-stress-")), "stress-reader");
  await compileTestProgram("stress-reader.c", readerBinary);
  for (let i = 0; i < READERS; i++) {
    groups.push(createCgroup({ memoryLimitBytes: (96 + 8 * i) * MiB, cpus: i % 2 === 0 ? "0" : "1" }));
  }
});
test.after.always(async () => {
  for (const group of groups) await group.remove();
});

interface ReaderResult {
  reads: number;
  errors: number;
  wrong: number;
  maxStallUs: number;
  firstProblem: string;
}

function parseReader(line: string): ReaderResult {
  const field = (name: string) => {
    const match = new RegExp(`${name}=(\\S+)`).exec(line);
    if (!match) throw new Error(`no ${name} in reader output: ${line}`);
    return match[1]!;
  };
  return {
    reads: Number(field("reads")),
    errors: Number(field("errors")),
    wrong: Number(field("wrong")),
    maxStallUs: Number(field("max_stall_us")),
    firstProblem: line.slice(line.indexOf("first_problem=") + "first_problem=".length),
  };
}

/** At most this long; the tests stop the readers once the serving processes they test have served them. */
const READERS_MAX_SECONDS = 120;

interface Readers {
  /** SIGTERMs every reader (each in its own group, alone) and resolves with what each counted. */
  stop(): Promise<ReaderResult[]>;
}

/** 20 readers, each in its own cgroup, reading meminfo and cpuinfo until stopped. */
function startReaders(mountPoint: string): Readers {
  const results = Promise.all(
    groups.map((group, i) =>
      runInCgroup(
        group.procsFiles(),
        [
          readerBinary,
          String(READERS_MAX_SECONDS),
          join(mountPoint, "proc/meminfo"),
          String((96 + 8 * i) * 1024),
          join(mountPoint, "proc/cpuinfo"),
          "1",
        ],
        { timeoutMs: (READERS_MAX_SECONDS + 60) * 1000 },
      ).then(parseReader),
    ),
  );
  return {
    stop() {
      for (const group of groups)
        for (const pid of readFileSync(group.procsFiles()[0]!, "utf8").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGTERM");
      return results;
    },
  };
}

/** The status file of the keeper serving `mountPoint` (written at once when its processes
 * change, its counters once a second). */
function statusAt(mountPoint: string): KeeperStatus {
  const current = readStatus(statusPath(mountPoint, DEFAULT_RUNTIME_DIR));
  if (!current) throw new Error(`no status file for ${mountPoint}`);
  return current;
}
const status = (service: RunningProcview): KeeperStatus => statusAt(service.mountPoint);

/** Until the current serving process has answered `opens` more opens than the status counted
 * when `waitForReaders` was called: the readers are being served by it (the keeper publishes its
 * counts once a second). */
async function waitForReaders(service: RunningProcview | string, opens = 1000): Promise<void> {
  const mountPoint = typeof service === "string" ? service : service.mountPoint;
  // Asked of the keeper: during a handoff both keepers write the status file.
  const ask = () => keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR);
  const { servingPid, opens: before } = await waitFor("a serving process", async () => {
    const now = await ask();
    return now.servingPid !== null && now;
  });
  await waitFor(`${opens} opens served by serving process ${servingPid}`, async () => {
    const now = await ask();
    return now.servingPid === servingPid && now.opens >= before + opens;
  });
}

const worstStallMs = (results: ReaderResult[]): number => Math.max(...results.map((r) => r.maxStallUs)) / 1000;

function noneFailed(t: { is: (a: unknown, b: unknown, m?: string) => void }, results: ReaderResult[]): void {
  for (const [i, r] of results.entries()) {
    t.is(r.errors, 0, `reader ${i}: ${r.firstProblem}`);
    t.is(r.wrong, 0, `reader ${i}: ${r.firstProblem}`);
  }
}

function summarize(t: { log: (...values: unknown[]) => void }, label: string, results: ReaderResult[]): void {
  const stalls = results.map((r) => r.maxStallUs);
  t.log(
    `${label}: ${results.reduce((n, r) => n + r.reads, 0)} reads by ${results.length} readers, ` +
      `${results.reduce((n, r) => n + r.errors, 0)} failed, ${results.reduce((n, r) => n + r.wrong, 0)} wrong; ` +
      `longest stall per reader (ms): ${stalls.map((us) => (us / 1000).toFixed(0)).join(" ")}; worst ${(Math.max(...stalls) / 1000).toFixed(1)} ms`,
  );
}

test.serial(
  "kill -9 of the serving process 5 times under 20 readers: no read fails, every read has its own cgroup's numbers",
  async (t) => {
    const service = await startProcview();
    const readers = startReaders(service.mountPoint);
    try {
      for (let kill = 0; kill < 5; kill++) {
        await waitForReaders(service);
        // Each kill finds a standby ready: it is the one that takes over.
        await waitFor("a standby ready to take over", () => status(service).standbyReady);
        const { servingPid: victim, standbyPid: standby } = status(service);
        if (victim === null) throw new Error("no serving process to kill");
        process.kill(victim, "SIGKILL");
        await waitFor("the standby to serve", () => status(service).servingPid === standby);
      }
      await waitForReaders(service);
      const results = await readers.stop();
      summarize(t, "kill -9 ×5", results);
      for (const [i, r] of results.entries()) {
        t.true(r.reads > 20, `reader ${i} read only ${r.reads} times`);
        t.is(r.errors, 0, `reader ${i}: ${r.firstProblem}`);
        t.is(r.wrong, 0, `reader ${i}: ${r.firstProblem}`);
      }
      t.is(status(service).restarts, 5);
      t.true(service.alive(), "the keeper itself never went down");
    } finally {
      await readers.stop().catch(() => undefined);
      await service.stop();
    }
  },
);

test.serial("procview reload 5 times under 20 readers: no read fails", async (t) => {
  const service = await startProcview();
  const readers = startReaders(service.mountPoint);
  try {
    for (let reload = 0; reload < 5; reload++) {
      await waitForReaders(service);
      const { stdout } = await execa(process.execPath, [PROCVIEW_CLI, "reload", "--mountpoint", service.mountPoint]);
      t.regex(stdout, /^reloaded: serving process \d+ → \d+$/);
    }
    await waitForReaders(service);
    const results = await readers.stop();
    summarize(t, "reload ×5", results);
    for (const [i, r] of results.entries()) {
      t.is(r.errors, 0, `reader ${i}: ${r.firstProblem}`);
      t.is(r.wrong, 0, `reader ${i}: ${r.firstProblem}`);
    }
    t.is(status(service).reloads, 5);
    t.is(status(service).restarts, 0, "a reload is not a crash");
  } finally {
    await readers.stop().catch(() => undefined);
    await service.stop();
  }
});

const WATCHDOG_MS = 500;

test.serial(
  "a serving process stopped (SIGSTOP) under 20 readers is replaced by the watchdog: readers resume within 1 s of its deadline, none fails",
  async (t) => {
    const service = await startProcview({ extraArgs: ["--watchdog-ms", String(WATCHDOG_MS)] });
    const readers = startReaders(service.mountPoint);
    try {
      await waitFor("a standby ready to take over", () => status(service).standbyReady);
      await waitForReaders(service);
      const victim = status(service).servingPid!;
      process.kill(victim, "SIGSTOP");
      await waitFor("the watchdog to replace it", () => {
        const now = status(service);
        return now.hangs === 1 && now.servingPid !== null && now.servingPid !== victim;
      });
      await waitForReaders(service);
      const results = await readers.stop();
      summarize(t, "SIGSTOP", results);
      noneFailed(t, results);
      const worst = worstStallMs(results);
      t.true(worst <= WATCHDOG_MS + 1000, `longest stall ${worst} ms, deadline ${WATCHDOG_MS} ms`);
      t.is(status(service).hangs, 1);
      t.is(status(service).restarts, 0, "a hang is not counted as a crash");
      await waitFor("the stopped process to be gone", () => !existsSync(`/proc/${victim}`));
    } finally {
      await readers.stop().catch(() => undefined);
      await service.stop();
    }
  },
);

/** A second `procview serve`, started with --take-over on a mountpoint a first one serves. */
const startSuccessor = (mountPoint: string) =>
  execa(process.execPath, [PROCVIEW_CLI, "serve", "--foreground", "--take-over", "--mountpoint", mountPoint], { reject: false, all: true });

test.serial("a second keeper takes the mount over when the first is stopped: 20 readers, no read fails", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-handoff-"));
  const first = await startProcview({ mountPoint });
  const second = startSuccessor(mountPoint);
  const readers = startReaders(mountPoint);
  try {
    await waitFor(
      "the second keeper to wait for the first",
      async () => (await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR)).successorWaiting,
    );
    await waitForReaders(mountPoint);
    const before = statusAt(mountPoint);
    process.kill(first.pid, "SIGTERM");
    await waitFor("the first keeper to exit", () => !first.alive());
    const after = await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR);
    t.is(after.keeperPid, second.pid!);
    t.is(after.handoffs, 1);
    t.not(after.servingPid, before.servingPid);
    t.true(after.opens >= before.opens, "the counters carry over");
    await waitForReaders(mountPoint);
    const results = await readers.stop();
    summarize(t, "handoff", results);
    noneFailed(t, results);
    t.is(mountsAt(mountPoint).length, 1, "the same mount, nothing stacked");
    // The per-container tree went along: the same mount, served by the successor.
    t.is(mountsAt(join(mountPoint, "containers")).length, 1);
    t.is(after.containerTree, join(mountPoint, "containers"));
    registerContainer(mountPoint, "after-handoff", { pid: process.pid });
    t.regex(readFileSync(join(mountPoint, "containers/after-handoff/proc/meminfo"), "utf8"), /^MemTotal:/);
  } finally {
    await readers.stop().catch(() => undefined);
    second.kill("SIGTERM");
    const end = await second;
    t.log(
      String(end.all)
        .split("\n")
        .filter((l) => /hand|took|waiting|gone/.test(l))
        .join("\n"),
    );
    await first.stop();
    rmSync(registryDir(mountPoint), { recursive: true, force: true });
  }
  t.deepEqual(mountsAt(mountPoint), [], "the second keeper unmounts when stopped");
});

test.serial("a keeper waiting to take over starts afresh when the first is killed instead of stopped", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-handoff-killed-"));
  const first = await startProcview({ mountPoint });
  const second = startSuccessor(mountPoint);
  try {
    await waitFor(
      "the second keeper to wait for the first",
      async () => (await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR)).successorWaiting,
    );
    // Its serving processes die with it (they follow their keeper): the mount is dead.
    process.kill(first.pid, "SIGKILL");
    await waitFor("the second keeper to serve", async () => {
      const now = await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR).catch(() => null);
      return now !== null && now.keeperPid === second.pid && now.servingPid !== null;
    });
    t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
    t.is(mountsAt(mountPoint).length, 1, "the dead mount was replaced, not stacked under");
    t.is((await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR)).handoffs, 0);
  } finally {
    second.kill("SIGTERM");
    await second;
    await first.stop();
  }
});

test.serial("a podman container started before a full stop and restart of the service reads its own views again", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-restart-"));
  const rootfs = await busyboxRootfs();
  let service = await startProcview({ mountPoint });
  const hooks = await hooksDir(mountPoint, "fail");
  const run = await execa(
    "podman",
    [
      ...PODMAN_BASE_ARGS,
      "--hooks-dir",
      hooks,
      "run",
      "-d",
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=1024:1024",
      "--network",
      "none",
      "-m",
      "256m",
      "--cpus",
      "1",
      "--rootfs",
      rootfs,
      "/bin/sleep",
      "300",
    ],
    { stdin: "ignore" },
  );
  const container = run.stdout.trim();
  const exec = (...command: string[]) => execa("podman", [...PODMAN_BASE_ARGS, "exec", container, ...command], { reject: false });
  try {
    t.regex((await exec("cat", "/proc/meminfo")).stdout, /^MemTotal:\s+262144 kB$/m, "views before the restart");

    await service.stop();
    const whileDown = await exec("cat", "/proc/meminfo");
    t.regex(whileDown.stderr, /not connected/i, "while procview is down the old views are dead (what LXCFS users get for good)");

    // Another instance started meanwhile (another mountpoint) leaves them alone: it brings back
    // only dead views of connections its own predecessor recorded, and it has none.
    const other = await startProcview();
    try {
      await waitFor("the other instance to record its connections", () => existsSync(connectionsRecord(registryDir(other.mountPoint))));
      t.regex((await exec("cat", "/proc/meminfo")).stderr, /not connected/i, "another instance took none of them");
      t.is(status(other).restoredViews, 0);
    } finally {
      await other.stop();
    }

    service = await startProcview({ mountPoint });
    // Exactly the views of this mountpoint's earlier connection: other tests' containers hold
    // views of other instances, which stay theirs.
    await waitFor("the views to be restored", () => status(service).restoredViews >= VIEW_FILES.length);
    const meminfo = await exec("cat", "/proc/meminfo");
    t.is(meminfo.exitCode, 0, meminfo.stderr);
    t.regex(meminfo.stdout, /^MemTotal:\s+262144 kB$/m);
    t.is((await exec("cat", "/sys/devices/system/cpu/online")).stdout, "0");
    t.is((await exec("grep", "-c", "^processor", "/proc/cpuinfo")).stdout, "1");
    // Exactly the views bound at start, nothing extra left inside the container.
    const mounts = (await exec("cat", "/proc/self/mountinfo")).stdout.split("\n").filter((l) => l.includes(" - fuse.procview "));
    t.is(mounts.length, VIEW_FILES.length);
    // Each from the container's own copy of the layout, on the per-container tree (served from
    // the page cache, the container's own view whoever reads it).
    t.true(
      mounts.every((l) => l.split(" ")[3]!.startsWith(`/${container}/`) && l.includes(` - fuse.procview ${CONTAINERS_SOURCE} `)),
      mounts.join("\n"),
    );
  } finally {
    await execa("podman", [...PODMAN_BASE_ARGS, "rm", "-f", "-t", "0", container], { reject: false });
    await service.stop();
    rmSync(registryDir(mountPoint), { recursive: true, force: true });
  }
});

test.serial("procview status tells a live service from a dead one", async (t) => {
  const service = await startProcview();
  const ask = () => execa(process.execPath, [PROCVIEW_CLI, "status", "--mountpoint", service.mountPoint], { reject: false });
  const healthy = await ask();
  t.is(healthy.exitCode, 0, healthy.stdout);
  t.regex(healthy.stdout, /^ok\s+mount\s+.*: answering$/m);
  await service.stop();
  const stopped = await ask();
  t.is(stopped.exitCode, 1);
  t.regex(stopped.stdout, /^FAIL mount\s+.*: not-mounted$/m);
  t.regex(stopped.stdout, /^FAIL keeper\s+no procview keeper answers on .*; last known: pid \d+/m, "the last status is still shown");
  t.not(readStatus(statusPath(service.mountPoint, DEFAULT_RUNTIME_DIR)), null, "the status file stays for the next start");
});
