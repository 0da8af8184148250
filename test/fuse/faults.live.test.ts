// A real serving process, mounted, on the machine's cgroup2 hierarchy, with every errno the
// kernel can answer injected at every process and cgroup file it reads (test/support/
// fault-preload.ts, loaded with node --import and steered by a control file): a container's
// reader keeps reading every file, and it is the same serving process throughout. Then the
// failures that must end a serving process: it ends whole (no thread left blocked on /dev/fuse)
// and the keeper replaces it, whether its main thread dies of an uncaught error or its serving
// threads cannot start.
import test from "ava";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { UNIFIED_ROOT, createV2Tree, startLiveContainer, type V2Tree } from "../../testbed/cgroups-v2.js";
import { waitFor } from "../../testbed/wait.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import type { KeeperStatus } from "../../fuse/keeper/status.js";
import { DEFAULT_RUNTIME_DIR } from "../../core/paths.js";
import { VIEW_PATHS } from "../../core/layout.js";
import { ERRNOS } from "../support/fs-faults.js";

const PRELOAD = pathToFileURL(fileURLToPath(new URL("../support/fault-preload.js", import.meta.url))).href;
const scratch = mkdtempSync(join(tmpdir(), "procview-faults-"));
const controlFile = join(scratch, "control.json");
let service: RunningProcview;
let v2: V2Tree;

function control(value: object): void {
  const temporary = `${controlFile}.tmp`;
  writeFileSync(temporary, JSON.stringify(value));
  renameSync(temporary, controlFile);
}

test.before(async () => {
  control({});
  v2 = createV2Tree("procview-faults");
  service = await startProcview({
    nodeOptions: ["--import", PRELOAD],
    env: { PROCVIEW_TEST_FAULTS: controlFile },
    extraArgs: ["--cgroup-root", UNIFIED_ROOT, "--cache-ms", "0"],
  });
});
test.after.always(async () => {
  control({});
  await service?.stop();
  await v2?.remove();
  rmSync(scratch, { recursive: true, force: true });
});

const status = (): Promise<KeeperStatus> => keeperStatus(service.mountPoint, DEFAULT_RUNTIME_DIR);
const files = () => Object.values(VIEW_PATHS).map((view) => join(service.mountPoint, view));

/**
 * A fresh podman --systemd-style container (new pid and cgroup namespaces, so no cache of the
 * service knows its init) whose exec'd reader, in a service's cgroup, reads every file. Resolves
 * when all were read; rejects naming the file a read failed on.
 */
async function readEverythingFromANewContainer(n: number): Promise<void> {
  const base = `ctr-${n}`;
  const root = v2.make(base);
  const ctr = await startLiveContainer({ root, initDir: v2.make(`${base}/init.scope`) });
  try {
    await ctr.exec(v2.make(`${base}/system.slice/app.service`), [
      "/bin/sh",
      "-c",
      'for f; do cat "$f" > /dev/null || { echo "$f" >&2; exit 1; }; done',
      "sh",
      ...files(),
    ]);
  } finally {
    await ctr.stop();
  }
}

const P = "/proc/\\d+";
const CG = `${UNIFIED_ROOT}(/.*)?`;
/** What a request or a load sample reads on this hierarchy, as patterns over real paths. */
const SITES: { site: string; pattern: string; operations?: string[] }[] = [
  { site: "/proc/<pid>/cgroup", pattern: `^${P}/cgroup$` },
  { site: "/proc/<pid>/ns/pid", pattern: `^${P}/ns/pid$` },
  { site: "/proc/<pid>/ns/cgroup", pattern: `^${P}/ns/cgroup$` },
  { site: "/proc/<pid>/status", pattern: `^${P}/status$` },
  { site: "/proc/<pid>/stat", pattern: `^${P}/stat$` },
  { site: "/proc/<pid>/mountinfo", pattern: `^${P}/mountinfo$` },
  { site: "/proc/ (list)", pattern: "^/proc$", operations: ["readdir"] },
  { site: "<cgroup>/ (list)", pattern: `^${CG}$`, operations: ["readdir"] },
  ...["cgroup.controllers", "cgroup.threads", "cgroup.procs", "cpu.stat", "cpu.max", "cpuset.cpus.effective", "memory.stat", "io.stat"].map(
    (name) => ({ site: `<cgroup>/${name}`, pattern: `^${CG}/${name.replace(/\./g, "\\.")}$` }),
  ),
];

test.serial("every errno at every read site: a container's reader reads every file, from the same serving process", async (t) => {
  const before = await status();
  let n = 0;
  for (const { site, pattern, operations } of SITES) {
    for (const errno of ERRNOS) {
      control({ errno, pattern, operations });
      try {
        await readEverythingFromANewContainer(n++);
      } catch (err) {
        t.fail(`${errno} at ${site}: ${(err as Error).message}`);
      }
    }
  }
  control({});
  await readEverythingFromANewContainer(n++);
  const after = await status();
  t.is(after.servingPid, before.servingPid, "the same serving process answered every read");
  t.is(after.restarts, before.restarts);
  t.is(after.renderFailures, 0, "no read answered EIO");
  t.log(`${SITES.length} sites × ${ERRNOS.length} errnos, ${n} containers`);
});

const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

test.serial("an uncaught error on the serving process's main thread: it ends whole at once and the keeper replaces it", async (t) => {
  const before = await status();
  const old = before.servingPid!;
  control({ crash: "main", pid: old });
  // Whole: the process is gone (a thread blocked on /dev/fuse would keep it alive).
  await waitFor("the serving process to end", () => gone(old), { timeoutMs: 10_000 });
  const replaced = await waitFor("a successor", async () => {
    const s = await status();
    return s.servingPid !== null && s.servingPid !== old && s;
  });
  control({});
  t.true(replaced.restarts > before.restarts);
  await readEverythingFromANewContainer(1000);
  t.pass();
});

test.serial("serving threads that cannot start: the serving process ends whole and the keeper keeps replacing it", async (t) => {
  // A standby's threads are started ahead and would take over unharmed: the serving process and
  // the standby both go, so that every process the keeper starts to serve from now on has
  // threads that crash as they start.
  await waitFor("a standby ready to take over", async () => (await status()).standbyReady);
  const before = await status();
  control({ crash: "threads" });
  process.kill(before.servingPid!, "SIGKILL");
  process.kill(before.standbyPid!, "SIGKILL");
  // The two killed count at most two restarts (the standby's if it was told to serve first).
  // Each further one is a process started to serve that ended, whole, for the next to start:
  // one that lingered would hold the next back until the keeper's 60 s start deadline.
  await waitFor("successors that ended", async () => (await status()).restarts >= before.restarts + 2 + 3, { timeoutMs: 60_000 });
  control({});
  // Requests wait in the kernel's queue until threads that can start read them.
  await readEverythingFromANewContainer(2000);
  const serving = (await status()).servingPid!;
  t.false(gone(serving), "a serving process is up");
  t.true(service.alive(), "the keeper never went down");
});

test.serial("the keeper gone: its serving process ends whole at once (last: the mount is left for teardown)", async (t) => {
  const serving = (await status()).servingPid!;
  process.kill(service.pid, "SIGKILL");
  await waitFor("the serving process to end", () => gone(serving), { timeoutMs: 10_000 });
  t.true(gone(serving));
});
