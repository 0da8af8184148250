// procview must survive its own restart: readers in real cgroups keep reading, with the right
// numbers, while the serving process is killed, stopped or replaced, while the mount passes from
// one keeper to the next, and a container started before a full stop and restart of the whole
// service gets its views back.
import test from "ava";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { startProcview, PROCVIEW_CLI, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { type KeeperStatus } from "../../fuse/keeper/status.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { mountsAt } from "../../core/mountinfo.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { hooksDir } from "../support/hooks-dir.js";
import { PODMAN_BASE_ARGS } from "../../testbed/podman.js";
import { DEFAULT_RUNTIME_DIR, statusPath, PACKAGE_ROOT } from "../../core/paths.js";

const READERS = 20;
const MiB = 1024 * 1024;

let readerBinary = "";
const groups: TestCgroup[] = [];

test.before(async () => {
  readerBinary = join(mkdtempSync(join(tmpdir(), "procview-stress-")), "stress-reader");
  await execa("cc", ["-O2", "-Wall", "-o", readerBinary, join(PACKAGE_ROOT, "test/support/stress-reader.c")]);
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

/** 20 readers, each in its own cgroup, reading meminfo and cpuinfo for `seconds`. */
function startReaders(mountPoint: string, seconds: number): Promise<ReaderResult[]> {
  return Promise.all(
    groups.map((group, i) =>
      runInCgroup(
        group.procsFiles(),
        [
          readerBinary,
          String(seconds),
          join(mountPoint, "proc/meminfo"),
          String((96 + 8 * i) * 1024),
          join(mountPoint, "proc/cpuinfo"),
          "1",
        ],
        { timeoutMs: (seconds + 60) * 1000 },
      ).then(parseReader),
    ),
  );
}

/** What the keeper serving `mountPoint` says now, over its control socket. */
const live = (mountPoint: string): Promise<KeeperStatus> => keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR);
const status = (service: RunningProcview): Promise<KeeperStatus> => live(service.mountPoint);

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 50) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
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
    try {
      const readers = startReaders(service.mountPoint, 12);
      for (let kill = 0; kill < 5; kill++) {
        await new Promise((r) => setTimeout(r, 1500));
        // Each kill finds a standby ready: it is the one that takes over.
        await waitFor("a standby ready to take over", async () => (await status(service)).standbyReady);
        const { servingPid: victim, standbyPid: standby } = await status(service);
        if (victim === null) throw new Error("no serving process to kill");
        process.kill(victim, "SIGKILL");
        await waitFor("the standby to serve", async () => (await status(service)).servingPid === standby);
      }
      const results = await readers;
      summarize(t, "kill -9 ×5", results);
      for (const [i, r] of results.entries()) t.true(r.reads > 20, `reader ${i} read only ${r.reads} times`);
      noneFailed(t, results);
      t.is((await status(service)).restarts, 5);
      t.true(service.alive(), "the keeper itself never went down");
    } finally {
      await service.stop();
    }
  },
);

test.serial("procview reload 5 times under 20 readers: no read fails", async (t) => {
  const service = await startProcview();
  try {
    const readers = startReaders(service.mountPoint, 12);
    for (let reload = 0; reload < 5; reload++) {
      await new Promise((r) => setTimeout(r, 1000));
      const { stdout } = await execa(process.execPath, [PROCVIEW_CLI, "reload", "--mountpoint", service.mountPoint]);
      t.regex(stdout, /^reloaded: serving process \d+ → \d+$/);
    }
    const results = await readers;
    summarize(t, "reload ×5", results);
    noneFailed(t, results);
    t.is((await status(service)).reloads, 5);
    t.is((await status(service)).restarts, 0, "a reload is not a crash");
  } finally {
    await service.stop();
  }
});

const WATCHDOG_MS = 500;

test.serial(
  "a serving process stopped (SIGSTOP) under 20 readers is replaced by the watchdog: readers resume within 1 s of its deadline, none fails",
  async (t) => {
    const service = await startProcview({ extraArgs: ["--watchdog-ms", String(WATCHDOG_MS)] });
    try {
      await waitFor("a standby ready to take over", async () => (await status(service)).standbyReady);
      const readers = startReaders(service.mountPoint, 8);
      await new Promise((r) => setTimeout(r, 2000));
      const victim = (await status(service)).servingPid!;
      process.kill(victim, "SIGSTOP");
      await waitFor("the watchdog to replace it", async () => {
        const now = await status(service);
        return now.hangs === 1 && now.servingPid !== null && now.servingPid !== victim;
      });
      const results = await readers;
      summarize(t, "SIGSTOP", results);
      noneFailed(t, results);
      const worst = worstStallMs(results);
      t.true(worst <= WATCHDOG_MS + 1000, `longest stall ${worst} ms, deadline ${WATCHDOG_MS} ms`);
      const after = await status(service);
      t.is(after.hangs, 1);
      t.is(after.restarts, 0, "a hang is not counted as a crash");
      await waitFor("the stopped process to be gone", () => !existsSync(`/proc/${victim}`));
    } finally {
      await service.stop();
    }
  },
);

test.serial("a second keeper takes the mount over when the first is stopped: 20 readers, no read fails", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-handoff-"));
  const first = await startProcview({ mountPoint });
  const second = execa(process.execPath, [PROCVIEW_CLI, "serve", "--foreground", "--take-over", "--mountpoint", mountPoint], {
    reject: false,
    all: true,
  });
  try {
    await waitFor("the second keeper to wait for the first", async () => (await live(mountPoint)).successorWaiting);
    const readers = startReaders(mountPoint, 8);
    await new Promise((r) => setTimeout(r, 2000));
    const before = await live(mountPoint);
    process.kill(first.pid, "SIGTERM");
    await waitFor("the first keeper to exit", () => !first.alive());
    const after = await live(mountPoint);
    t.is(after.keeperPid, second.pid!);
    t.is(after.handoffs, 1);
    t.not(after.servingPid, before.servingPid);
    t.true(after.opens >= before.opens, "the counters carry over");
    const results = await readers;
    summarize(t, "handoff", results);
    noneFailed(t, results);
    t.is(mountsAt(mountPoint).length, 1, "the same mount, nothing stacked");
    t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
  } finally {
    second.kill("SIGTERM");
    const end = await second;
    t.log(
      String(end.all)
        .split("\n")
        .filter((l) => /hand|took|waiting|gone/.test(l))
        .join("\n"),
    );
    await first.stop();
  }
  t.deepEqual(mountsAt(mountPoint), [], "the second keeper unmounts when stopped");
});

test.serial("a keeper waiting to take over starts afresh when the first is killed instead of stopped", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-handoff-killed-"));
  const first = await startProcview({ mountPoint });
  const second = execa(process.execPath, [PROCVIEW_CLI, "serve", "--foreground", "--take-over", "--mountpoint", mountPoint], {
    reject: false,
    all: true,
  });
  try {
    await waitFor("the second keeper to wait for the first", async () => (await live(mountPoint)).successorWaiting);
    // Its serving processes die with it (they follow their keeper): the mount is dead.
    process.kill(first.pid, "SIGKILL");
    await waitFor("the second keeper to serve", async () => {
      const now = await keeperStatus(mountPoint, DEFAULT_RUNTIME_DIR).catch(() => null);
      return now !== null && now.keeperPid === second.pid && now.servingPid !== null;
    });
    t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
    t.is(mountsAt(mountPoint).length, 1, "the dead mount was replaced, not stacked under");
    t.is((await live(mountPoint)).handoffs, 0);
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

    service = await startProcview({ mountPoint });
    await waitFor("the views to be restored", async () => (await status(service)).restoredViews === 8);
    const meminfo = await exec("cat", "/proc/meminfo");
    t.is(meminfo.exitCode, 0, meminfo.stderr);
    t.regex(meminfo.stdout, /^MemTotal:\s+262144 kB$/m);
    t.is((await exec("cat", "/sys/devices/system/cpu/online")).stdout, "0");
    t.is((await exec("grep", "-c", "^processor", "/proc/cpuinfo")).stdout, "1");
    // Exactly the eight views, nothing extra left inside the container.
    const mounts = (await exec("cat", "/proc/self/mountinfo")).stdout.split("\n").filter((l) => l.includes(" - fuse.procview "));
    t.is(mounts.length, 8);
    // Each from the container's own copy of the layout (inodes shared with no other container).
    t.true(
      mounts.every((l) => l.split(" ")[3]!.startsWith(`/containers/${container}/`)),
      mounts.join("\n"),
    );
  } finally {
    await execa("podman", [...PODMAN_BASE_ARGS, "rm", "-f", "-t", "0", container], { reject: false });
    await service.stop();
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
  t.notThrows(() => readFileSync(statusPath(service.mountPoint, DEFAULT_RUNTIME_DIR)));
});
