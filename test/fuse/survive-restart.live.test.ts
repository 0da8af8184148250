// procview must survive its own restart: readers in real cgroups keep reading, with the right
// numbers, while the serving process is killed or replaced, and a container started before a
// full stop and restart of the whole service gets its views back.
import { VIEW_FILES } from "../../core/layout.js";
import test from "ava";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { startProcview, PROCVIEW_CLI, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { readStatus, type KeeperStatus } from "../../fuse/keeper/status.js";
import { busyboxRootfs } from "../../testbed/rootfs.js";
import { waitFor } from "../../testbed/wait.js";
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

function status(service: RunningProcview): KeeperStatus {
  const current = readStatus(statusPath(service.mountPoint, DEFAULT_RUNTIME_DIR));
  if (!current) throw new Error(`no status file for ${service.mountPoint}`);
  return current;
}

/** Until the current serving process has answered `opens` more opens than the status counted
 * when `waitForReaders` was called: the readers are being served by it (the keeper publishes its
 * counts once a second). */
async function waitForReaders(service: RunningProcview, opens = 1000): Promise<void> {
  const { servingPid, opens: before } = status(service);
  await waitFor(`${opens} opens served by serving process ${servingPid}`, () => {
    const now = status(service);
    return now.servingPid === servingPid && now.opens >= before + opens;
  });
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
        const victim = status(service).servingPid;
        if (victim === null) throw new Error("no serving process to kill");
        process.kill(victim, "SIGKILL");
        await waitFor("a new serving process", () => {
          const now = status(service);
          return now.servingPid !== null && now.servingPid !== victim;
        });
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
    await waitFor("the views to be restored", () => status(service).restoredViews === VIEW_FILES.length);
    const meminfo = await exec("cat", "/proc/meminfo");
    t.is(meminfo.exitCode, 0, meminfo.stderr);
    t.regex(meminfo.stdout, /^MemTotal:\s+262144 kB$/m);
    t.is((await exec("cat", "/sys/devices/system/cpu/online")).stdout, "0");
    t.is((await exec("grep", "-c", "^processor", "/proc/cpuinfo")).stdout, "1");
    // Exactly the views bound at start, nothing extra left inside the container.
    const mounts = (await exec("cat", "/proc/self/mountinfo")).stdout.split("\n").filter((l) => l.includes(" - fuse.procview "));
    t.is(mounts.length, VIEW_FILES.length);
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
  t.not(readStatus(statusPath(service.mountPoint, DEFAULT_RUNTIME_DIR)), null, "the status file stays for the next start");
});
