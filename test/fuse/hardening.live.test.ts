// The per-container tree against a hostile or unlucky tenant: moves that used to stall the serving
// thread, show one container another's numbers, or outlast a registration's change. Real mount,
// real cgroups, C readers (test/support/last-page.c).
import test from "ava";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { registerContainer, startProcview, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, inPrivateMountNamespace, readKb, runInCgroup, startInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { waitFor } from "../../testbed/wait.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { DEFAULT_RUNTIME_DIR, CLI_ENTRY, registryDir } from "../../core/paths.js";
import { registeredIds } from "../../core/registry.js";
import { connectionsRecord } from "../../fuse/keeper/restore.js";
import { compileTestProgram } from "../support/c-program.js";

const MiB = 1024 * 1024;

let service: RunningProcview;
let lastPage = "";
const groups: TestCgroup[] = [];
const sleepers: ResultPromise[] = [];

test.before(async () => {
  const scratch = mkdtempSync(join(tmpdir(), "procview-hardening-"));
  lastPage = join(scratch, "last-page");
  await compileTestProgram("last-page.c", lastPage);
  service = await startProcview();
});
test.after.always(async () => {
  for (const sleeper of sleepers) sleeper.kill("SIGKILL");
  await Promise.allSettled(sleepers);
  await service?.stop();
  for (const group of groups) await group.remove();
});

/** A cgroup with a memory limit and a process in it. */
async function populated(memoryMiB: number): Promise<TestCgroup> {
  const group = createCgroup({ memoryLimitBytes: memoryMiB * MiB, unified: true });
  groups.push(group);
  const sleeper = startInCgroup(group.procsFiles(), ["sleep", "600"]);
  sleepers.push(sleeper);
  await waitFor("a process in the cgroup", () => readFileSync(join(group.dir("memory"), "cgroup.procs"), "utf8").trim());
  return group;
}

const file = (id: string, relative: string) => join(service.mountPoint, "containers", id, relative);
const status = () => keeperStatus(service.mountPoint, DEFAULT_RUNTIME_DIR);

test.serial(
  "a mapping of the last page a raised size covers, after a reload, is answered: no serving thread stalls, no watchdog replacement",
  async (t) => {
    const group = await populated(200);
    registerContainer(service.mountPoint, "raised", { cgroupsPath: group.path });
    const other = await populated(100);
    registerContainer(service.mountPoint, "bystander", { cgroupsPath: other.path });
    const path = file("raised", "proc/stat");
    // A descriptor kept open across the reload: an open afterwards would learn the exact size.
    const reader = execa(lastPage, [path], { timeout: 60_000, reject: false, stdin: "pipe" });
    let output = "";
    reader.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const raised = await waitFor("the readahead's size", () => /^size \d+\n/.exec(output)?.[0]);
    t.log(`after a readahead nobody read: ${raised.trim()}`);
    const before = await status();
    const { stdout } = await execa(process.execPath, [CLI_ENTRY, "reload", "--mountpoint", service.mountPoint]);
    t.regex(stdout, /^reloaded: /);
    // The successor invalidates what its predecessor left (the mapped page's read must not meet that).
    await waitFor("the successor's first invalidations", async () => (await status()).invalidations > before.invalidations);
    const started = Date.now();
    reader.stdin.end("touch\n");
    const touched = await reader;
    t.log(`touch: ${touched.stdout.split("\n")[1]} after ${Date.now() - started} ms ${touched.stderr}`);
    t.false(touched.timedOut, "the mapped page was answered");
    t.regex(touched.stdout, /\n(sigbus|byte 0)$/);
    // Every container's files still answer, and the serving process answered all along.
    t.is(readKb(readFileSync(file("bystander", "proc/meminfo"), "utf8"), "MemTotal"), 100 * 1024);
    t.regex(readFileSync(path, "utf8"), /^cpu /);
    const after = await status();
    t.is(after.hangs, before.hangs, "no serving process was replaced for hanging");
  },
);

test.serial("an id registered again to another cgroup shows that cgroup's numbers at the next rendering, not seconds later", async (t) => {
  const first = await populated(210);
  const second = await populated(130);
  registerContainer(service.mountPoint, "moved", { cgroupsPath: first.path });
  const path = file("moved", "proc/meminfo");
  t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), 210 * 1024);
  registerContainer(service.mountPoint, "moved", { cgroupsPath: second.path });
  const changed = Date.now();
  // --cache-ms is 100: the next rendering comes within it; a registration read again only every
  // 10 s would keep the first cgroup's numbers past this wait.
  await waitFor("the second cgroup's numbers", () => readKb(readFileSync(path, "utf8"), "MemTotal") === 130 * 1024, {
    timeoutMs: 4000,
  });
  t.log(`shown after ${Date.now() - changed} ms`);
  t.pass();
});

test.serial(
  "two registered ids with one hash never share a directory: the earlier keeps its own numbers, the other has none",
  async (t) => {
    // Written as a registry from before such ids were refused would hold them (the registry
    // refuses the second now: test/core/registry.test.ts).
    const [first, second] = ["tenant-ki5z", "tenant-435kd"];
    const big = await populated(220);
    const small = await populated(90);
    const dir = registryDir(service.mountPoint);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${first}.json`), JSON.stringify({ id: first, cgroupsPath: big.path, by: "nri", at: Date.now() - 1000 }));
    writeFileSync(join(dir, `${second}.json`), JSON.stringify({ id: second, cgroupsPath: small.path, by: "nri", at: Date.now() }));
    // The later one first: it must not take the node ids from the earlier.
    t.throws(() => readFileSync(file(second, "proc/meminfo"), "utf8"), { code: "ENOENT" });
    t.is(readKb(readFileSync(file(first, "proc/meminfo"), "utf8"), "MemTotal"), 220 * 1024);
    t.throws(() => readFileSync(file(second, "proc/meminfo"), "utf8"), { code: "ENOENT" });
  },
);

test.serial(
  "containers/ is root's alone: another user neither lists it nor opens a container's file by path, but reads it through a bind",
  async (t) => {
    const group = await populated(170);
    registerContainer(service.mountPoint, "private", { cgroupsPath: group.path });
    const path = file("private", "proc/meminfo");
    t.is(readKb(readFileSync(path, "utf8"), "MemTotal"), 170 * 1024, "root reads it");
    // The service's temporary directory is 0700: let other users reach the mountpoint, as they reach /var/lib/procview.
    chmodSync(dirname(service.mountPoint), 0o755);
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    const top = await execa(asNobody[0]!, [...asNobody.slice(1), "cat", join(service.mountPoint, "proc/uptime")], { reject: false });
    t.is(top.exitCode, 0, `the top level is everyone's: ${top.stderr}`);
    const listing = await execa(asNobody[0]!, [...asNobody.slice(1), "ls", join(service.mountPoint, "containers")], { reject: false });
    t.not(listing.exitCode, 0);
    t.regex(listing.stderr, /Permission denied/);
    const byPath = await execa(asNobody[0]!, [...asNobody.slice(1), "cat", path], { reject: false });
    t.not(byPath.exitCode, 0);
    t.regex(byPath.stderr, /Permission denied/);
    // As a container gets it: root binds the file over /proc/meminfo, a non-root process reads it.
    const bound = await runInCgroup(
      group.procsFiles(),
      inPrivateMountNamespace('mount --bind "$1" /proc/meminfo && shift && exec "$@"', "sh", path, ...asNobody, "cat", "/proc/meminfo"),
    );
    t.is(readKb(bound, "MemTotal"), 170 * 1024);
  },
);

test.serial(
  "a fresh service on another mountpoint and runtime directory leaves another instance's dead views and ids alone; that instance's own restart brings them back",
  async (t) => {
    const group = await populated(150);
    const mountPoint = mkdtempSync(join(tmpdir(), "procview-scoped-"));
    let first: RunningProcview | undefined = await startProcview({ mountPoint });
    let second: RunningProcview | undefined;
    const otherRuntime = mkdtempSync(join(tmpdir(), "procview-scoped-run-"));
    registerContainer(mountPoint, "scoped", { cgroupsPath: group.path });
    const holder = execa(
      "unshare",
      [
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        'mount --bind "$1" /proc/meminfo && mount --bind "$2" /proc/uptime && exec sleep 600',
        "sh",
        join(mountPoint, "containers/scoped/proc/meminfo"),
        join(mountPoint, "proc/uptime"),
      ],
      { reject: false },
    );
    const seen = (relative: string) => readFileSync(`/proc/${holder.pid}/root/${relative}`, "utf8");
    try {
      await waitFor("the views bound", () => readKb(seen("proc/meminfo"), "MemTotal") === 150 * 1024);
      // Recorded once both of its connections are mounted (where its own restore runs).
      await waitFor("the first instance's record of its connections", () => existsSync(connectionsRecord(registryDir(mountPoint))));
      await first.stop();
      first = undefined;
      t.throws(() => seen("proc/meminfo"), { code: "ENOTCONN" });
      second = await startProcview({ extraArgs: ["--runtime-dir", otherRuntime] });
      const record = connectionsRecord(registryDir(second.mountPoint, otherRuntime));
      const started = second;
      await waitFor(
        "the second instance's restore",
        async () => existsSync(record) || (await keeperStatus(started.mountPoint, otherRuntime)).restoredViews > 0,
      );
      t.throws(() => seen("proc/meminfo"), { code: "ENOTCONN" }, "not re-pointed to the other instance");
      t.throws(() => seen("proc/uptime"), { code: "ENOTCONN" });
      t.deepEqual(registeredIds(registryDir(second.mountPoint, otherRuntime)), [], "no id registered from what a namespace shows");
      first = await startProcview({ mountPoint });
      await waitFor("its own restart to bring them back", () => {
        try {
          return readKb(seen("proc/meminfo"), "MemTotal") === 150 * 1024 && /^\d+\.\d\d \d+\.\d\d\n$/.test(seen("proc/uptime"));
        } catch {
          return false;
        }
      });
    } finally {
      holder.kill("SIGKILL");
      await holder;
      await second?.stop();
      await first?.stop();
      rmSync(registryDir(mountPoint), { recursive: true, force: true });
    }
  },
);
