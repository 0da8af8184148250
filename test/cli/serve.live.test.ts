// `procview serve` as a person runs it: clear one-line errors with a non-zero exit, a stale mount
// from a crashed run replaced, and a clean unmount on SIGTERM / SIGINT.
import test from "ava";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PROCVIEW_CLI, startProcview } from "../../testbed/procview.js";
import { waitFor } from "../../testbed/wait.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { readStat } from "../../fuse/cgroup/process.js";
import { mountsAt } from "../../core/mountinfo.js";
import { DEFAULT_RUNTIME_DIR, statusPath } from "../../core/paths.js";

const serve = (args: string[]) =>
  execa(process.execPath, [PROCVIEW_CLI, "serve", "--foreground", ...args], { reject: false, timeout: 20_000 });

function oneLine(t: { true: (v: boolean, m?: string) => void }, stderr: string): void {
  const lines = String(stderr).trim().split("\n");
  t.true(lines.length === 1, `expected one line, got:\n${stderr}`);
}

test("a mountpoint that is not a directory: one line, exit 1", async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), "procview-notdir-")), "file");
  writeFileSync(file, "x");
  const r = await serve(["--mountpoint", file]);
  t.is(r.exitCode, 1);
  t.regex(String(r.stderr), /^procview: mountpoint .*\/file is not a directory$/m);
  oneLine(t, String(r.stderr));
});

test("no /dev/fuse: one line, exit 1", async (t) => {
  // A private mount namespace whose /dev has no fuse device.
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-nofuse-"));
  const r = await execa(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "/bin/sh",
      "-c",
      'mount -t tmpfs none /dev && exec "$@"',
      "sh",
      process.execPath,
      PROCVIEW_CLI,
      "serve",
      "--foreground",
      "--mountpoint",
      mountPoint,
    ],
    { reject: false, timeout: 20_000 },
  );
  t.is(r.exitCode, 1);
  t.regex(String(r.stderr), /^procview: \/dev\/fuse does not exist: load the fuse module \(modprobe fuse\)$/m);
  oneLine(t, String(r.stderr));
});

test("no permission (not root): one line, exit 1", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-noperm-"));
  const r = await execa(
    "setpriv",
    [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      process.execPath,
      PROCVIEW_CLI,
      "serve",
      "--foreground",
      "--mountpoint",
      mountPoint,
      "--runtime-dir",
      mkdtempSync(join(tmpdir(), "rt-")),
    ],
    {
      reject: false,
      timeout: 20_000,
    },
  );
  t.is(r.exitCode, 1);
  t.regex(String(r.stderr), /^procview: no permission to open \/dev\/fuse: procview serve must run as root$/m);
  oneLine(t, String(r.stderr));
});

test("a stale mount left by a crashed run is detected and replaced", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-stale-"));
  const first = await startProcview({ mountPoint });
  // The root's attributes, cached by the kernel for an hour once asked for: a stat of the dead
  // mount still answers, so only a request that reaches the connection (statfs) tells it is dead.
  t.true(statSync(mountPoint).isDirectory());
  // Crash everything at once: keeper and serving process (once the status names it).
  const status = await waitFor("the status to name the serving process", () => {
    const s = readStatus(statusPath(mountPoint, DEFAULT_RUNTIME_DIR));
    return s?.servingPid ? s : null;
  });
  process.kill(status.servingPid!, "SIGKILL");
  process.kill(first.pid, "SIGKILL");
  // Gone, or a zombie at most (its descriptors are closed): the mount is left without a server.
  const gone = (pid: number) => ["Z", "X", undefined].includes(readStat("/proc", pid)?.state);
  await waitFor("the keeper and the serving process to be gone", () => !first.alive() && gone(status.servingPid!) && gone(first.pid));
  t.throws(() => readFileSync(join(mountPoint, "proc/meminfo")), { code: "ENOTCONN" }, "the old mount is dead");
  t.true(statSync(mountPoint).isDirectory(), "though a stat of its root still answers");

  const second = await startProcview({ mountPoint });
  try {
    t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
    t.is(mountsAt(mountPoint).length, 1, "the dead mount was detached, not stacked under the new one");
  } finally {
    await second.stop();
    await first.stop();
  }
});

test("a live mount: refused without --take-over, and with it when no procview keeper offers it; one line, exit 1", async (t) => {
  const running = await startProcview();
  t.teardown(() => running.stop());
  const plain = await serve(["--mountpoint", running.mountPoint]);
  t.is(plain.exitCode, 1);
  t.regex(String(plain.stderr), /^procview: .* is already a live FUSE mount .*--take-over/m);
  oneLine(t, String(plain.stderr));
  // Its keeper listens under the default runtime directory, not this one.
  const elsewhere = mkdtempSync(join(tmpdir(), "rt-"));
  const takeOver = await serve(["--mountpoint", running.mountPoint, "--take-over", "--runtime-dir", elsewhere]);
  t.is(takeOver.exitCode, 1);
  t.regex(String(takeOver.stderr), /^procview: .* is a live FUSE mount, and no procview keeper answers on .*keeper\.sock to hand it over/m);
  oneLine(t, String(takeOver.stderr));
  t.regex(readFileSync(join(running.mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/, "the running one is untouched");
});

test("--no-standby: one serving process, replaced by a fresh one when it dies", async (t) => {
  const running = await startProcview({ extraArgs: ["--no-standby"] });
  t.teardown(() => running.stop());
  const before = await keeperStatus(running.mountPoint, DEFAULT_RUNTIME_DIR);
  t.is(before.standbyPid, null);
  process.kill(before.servingPid!, "SIGKILL");
  await waitFor("another serving process", async () => {
    const now = await keeperStatus(running.mountPoint, DEFAULT_RUNTIME_DIR);
    return now.servingPid !== null && now.servingPid !== before.servingPid;
  });
  t.regex(readFileSync(join(running.mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
  const after = await keeperStatus(running.mountPoint, DEFAULT_RUNTIME_DIR);
  t.is(after.restarts, 1);
  t.is(after.standbyPid, null);
});

test.serial("a connection aborted through fusectl stops the keeper and unmounts; the next start serves again", async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-abort-"));
  const child = serve(["--mountpoint", mountPoint]);
  await waitFor(`${mountPoint} served`, () => mountsAt(mountPoint).length > 0 && existsSync(join(mountPoint, "proc")));
  const dev = statSync(mountPoint).dev;
  const device = (dev & 0xff) | ((dev >> 12) & 0xfff00); // the connection's number in fusectl: the minor
  // fusectl in a mount namespace of our own: the host's mount table is left as it is.
  await execa("unshare", [
    "--mount",
    "--propagation",
    "private",
    "/bin/sh",
    "-c",
    `mount -t fusectl none /sys/fs/fuse/connections && echo 1 > /sys/fs/fuse/connections/${device}/abort`,
  ]);
  const r = await child;
  t.is(r.exitCode, 0, String(r.stderr));
  t.regex(String(r.stderr), /the FUSE connection of .* was aborted; stopping/);
  t.deepEqual(mountsAt(mountPoint), []);
  const again = await startProcview({ mountPoint });
  t.teardown(() => again.stop());
  t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test.serial(`${signal} unmounts cleanly and exits 0`, async (t) => {
    const mountPoint = mkdtempSync(join(tmpdir(), "procview-signal-"));
    const child = serve(["--mountpoint", mountPoint]);
    await waitFor(`a mount on ${mountPoint}`, () => mountsAt(mountPoint).length > 0, { timeoutMs: 10_000 });
    t.is(mountsAt(mountPoint).length, 1);
    child.kill(signal);
    const r = await child;
    t.is(r.exitCode, 0, `${r.signal ?? ""}${r.timedOut ? " (timed out)" : ""}\n${String(r.stderr)}`);
    t.deepEqual(mountsAt(mountPoint), []);
    t.regex(String(r.stderr), new RegExp(`${signal}: unmounting`));
  });
}

test("--help explains every flag", async (t) => {
  const { stdout } = await execa(process.execPath, [PROCVIEW_CLI, "serve", "--help"]);
  for (const flag of [
    "--mountpoint",
    "--cgroup-root",
    "--no-cpu-quota",
    "--foreground",
    "--threads",
    "--cache-ms",
    "--log-file",
    "--runtime-dir",
    "--watchdog-ms",
    "--no-standby",
    "--take-over",
  ]) {
    t.regex(stdout, new RegExp(`${flag}[^\\n]*\\s{2,}\\S`), `${flag} has a description`);
  }
});

test("socket paths too long for sun_path: a given --hook-socket, or a --runtime-dir too long for the keeper's socket; one line, exit 1", async (t) => {
  const long = join(tmpdir(), "r".repeat(90));
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-longsock-"));
  const r = await serve(["--mountpoint", mountPoint, "--hook-socket", join(long, "x.sock")]);
  t.is(r.exitCode, 1);
  t.regex(String(r.stderr), /^procview: --hook-socket: .*\/x\.sock is too long for a unix socket path/m);
  oneLine(t, String(r.stderr));

  const runtime = await serve(["--mountpoint", mountPoint, "--runtime-dir", long]);
  t.is(runtime.exitCode, 1);
  t.regex(String(runtime.stderr), /^procview: --runtime-dir: the keeper's socket .*\.keeper\.sock is too long for a unix socket path$/m);
  oneLine(t, String(runtime.stderr));
  t.deepEqual(mountsAt(mountPoint), [], "nothing mounted");
});
