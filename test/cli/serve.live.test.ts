// `procview serve` as a person runs it: clear one-line errors with a non-zero exit, a stale mount
// from a crashed run replaced, and a clean unmount on SIGTERM / SIGINT.
import test from "ava";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PROCVIEW_CLI, startProcview } from "../../testbed/procview.js";
import { waitFor } from "../../testbed/wait.js";
import { readStatus } from "../../fuse/keeper/status.js";
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
  // Crash everything at once: keeper and serving process.
  const status = readStatus(statusPath(mountPoint, DEFAULT_RUNTIME_DIR))!;
  process.kill(status.servingPid!, "SIGKILL");
  process.kill(first.pid, "SIGKILL");
  // Gone, or a zombie at most (its descriptors are closed): the mount is left without a server.
  const gone = (pid: number) => ["Z", "X", undefined].includes(readStat("/proc", pid)?.state);
  await waitFor("the keeper and the serving process to be gone", () => !first.alive() && gone(status.servingPid!) && gone(first.pid));
  t.throws(() => readFileSync(join(mountPoint, "proc/meminfo")), { code: "ENOTCONN" }, "the old mount is dead");

  const second = await startProcview({ mountPoint });
  try {
    t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
    t.is(mountsAt(mountPoint).length, 1, "the dead mount was detached, not stacked under the new one");
  } finally {
    await second.stop();
    await first.stop();
  }
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
  ]) {
    t.regex(stdout, new RegExp(`${flag}[^\\n]*\\s{2,}\\S`), `${flag} has a description`);
  }
});

test("a hook socket path too long for sun_path: given, one line and exit 1; by default, no socket and the views still served", async (t) => {
  const long = join(tmpdir(), "r".repeat(90));
  const mountPoint = mkdtempSync(join(tmpdir(), "procview-longsock-"));
  const r = await serve(["--mountpoint", mountPoint, "--hook-socket", join(long, "x.sock")]);
  t.is(r.exitCode, 1);
  t.regex(String(r.stderr), /^procview: --hook-socket: .*\/x\.sock is too long for a unix socket path/m);
  oneLine(t, String(r.stderr));

  // The default path under a long --runtime-dir: the serving process must not refuse its config.
  const running = await startProcview({ mountPoint, extraArgs: ["--runtime-dir", long] });
  t.teardown(() => running.stop());
  t.regex(readFileSync(join(mountPoint, "proc/meminfo"), "utf8"), /^MemTotal:/);
  const status = readStatus(statusPath(mountPoint, long))!;
  t.is(status.hookSocket, null);
  t.truthy(status.servingPid);
});
