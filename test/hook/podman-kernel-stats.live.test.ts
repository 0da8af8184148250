// Real podman + runc containers, the OCI hook binding procview's files: /proc/pressure/*,
// /proc/vmstat (read by procps' `vmstat -s`) and /proc/slabinfo as the container sees them,
// compared with what the kernel says of the container's own cgroups just before and after.
import test from "ava";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { hooksDir } from "../support/hooks-dir.js";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { assertPodmanWorks, podmanExec, podmanPid, podmanRemove, podmanRun, podmanStart } from "../../testbed/podman.js";
import { RUNC_PROC_MOUNTS } from "../../plan/plan.js";
import { VIEW_FILES } from "../../core/layout.js";
import { rootfsWith } from "../../testbed/rootfs.js";
import { attachLoopDevice } from "../../testbed/loop-device.js";
import { parseProcCgroup } from "../../fuse/cgroup/membership.js";
import { execa } from "execa";

let service: RunningProcview | undefined;
let rootfs = "";
let hooks = "";
const containers: string[] = [];
const scratch: string[] = [];

test.before(async () => {
  rootfs = await rootfsWith(["/usr/bin/vmstat"]);
  await assertPodmanWorks(rootfs);
  service = await startProcview();
  hooks = await hooksDir(service.mountPoint, "fail");
});
test.after.always(async () => {
  for (const name of containers) await podmanRemove(name);
  await service?.stop();
  for (const dir of [path.dirname(hooks), rootfs, ...scratch]) if (dir) await rm(dir, { recursive: true, force: true });
});

async function start(label: string, args: string[], script: string): Promise<{ name: string; cgroup: (hierarchy: string) => string }> {
  const name = `procview-${label}-${randomBytes(4).toString("hex")}`;
  containers.push(name);
  await podmanStart({ name, rootfs, hooksDir: hooks, args, cmd: ["/bin/sh", "-c", script] });
  const membership = parseProcCgroup(await readFile(`/proc/${await podmanPid(name)}/cgroup`, "utf8"));
  // The container's own cgroups, as runc made them: v1 controllers, and the cgroup2 one.
  const cgroup = (hierarchy: string) =>
    hierarchy === "unified" ? `/sys/fs/cgroup/unified${membership.v2}` : `/sys/fs/cgroup/${hierarchy}${membership.v1.get(hierarchy)}`;
  return { name, cgroup };
}

async function exec(name: string, script: string): Promise<string> {
  const r = await podmanExec(name, ["/bin/sh", "-c", script]);
  if (r.exitCode !== 0) throw new Error(`podman exec failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return r.stdout;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const someTotal = (text: string): number => Number(/^some .* total=(\d+)$/m.exec(text)?.[1] ?? NaN);

test.serial("inside a podman container, /proc/pressure/{cpu,memory} are its own cgroup's; a trigger write is refused", async (t) => {
  const dir = await mkdtemp(path.join("/var/tmp", "procview-psi-"));
  scratch.push(dir);
  // Three busy loops on one CPU, and 128 MiB of page cache through a 32 MiB limit.
  const c = await start(
    "psi",
    ["--cpuset-cpus", "0", "-m", "32m", "-v", `${dir}:/scratch`],
    "for i in 1 2 3; do timeout 5 sh -c 'while :; do :; done' & done; " +
      "dd if=/dev/zero of=/scratch/f bs=1M count=128 2>/dev/null; cat /scratch/f > /dev/null; exec sleep 600",
  );
  const kernel = async (resource: string) => readFile(`${c.cgroup("unified")}/${resource}.pressure`, "utf8");
  await until(
    "cpu and memory pressure in the container's cgroup",
    async () => someTotal(await kernel("cpu")) >= 1_000_000 && someTotal(await kernel("memory")) > 0,
  );
  const before = { cpu: someTotal(await kernel("cpu")), memory: someTotal(await kernel("memory")) };
  const seen = (await exec(c.name, "cat /proc/pressure/cpu; echo ---; cat /proc/pressure/memory")).split("---\n");
  const after = { cpu: someTotal(await kernel("cpu")), memory: someTotal(await kernel("memory")) };
  const host = { cpu: await readFile("/proc/pressure/cpu", "utf8"), memory: await readFile("/proc/pressure/memory", "utf8") };
  t.log(`container: ${seen.map((s) => s.split("\n")[0]).join(" | ")}; host: ${host.cpu.split("\n")[0]} | ${host.memory.split("\n")[0]}`);
  for (const [i, resource] of (["cpu", "memory"] as const).entries()) {
    const text = seen[i] ?? "";
    t.regex(
      text,
      /^some avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=\d+\nfull avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=\d+\n?$/,
    );
    const total = someTotal(text);
    t.true(before[resource] <= total && total <= after[resource], `${resource}: ${before[resource]} ≤ ${total} ≤ ${after[resource]}`);
    t.not(text, host[resource], `${resource}: not the host's file`);
  }
  const write = await podmanExec(c.name, ["/bin/sh", "-c", "echo 'some 150000 1000000' > /proc/pressure/memory"]);
  t.not(write.exitCode, 0);
  t.regex(write.stderr, /Read-only file system/);
  const mounts = await exec(c.name, "cat /proc/self/mountinfo");
  for (const f of ["/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io", "/proc/vmstat", "/proc/slabinfo"]) {
    t.regex(mounts, new RegExp(` ${f.replace(/\//g, "\\/")} `), `${f} is bound`);
  }
  t.is((await exec(c.name, "head -1 /proc/slabinfo")).trim(), "slabinfo - version: 2.1");
});

test.serial("inside a podman container, vmstat -s shows its own paging and /proc/vmstat its own page faults", async (t) => {
  // Block I/O is counted per cgroup on v1 only where blk-throttle is active on the device: the
  // container gets a loop device of the test's own with a read limit far above its rate.
  const disk = await attachLoopDevice(16 * 1024 * 1024);
  let name: string | undefined;
  try {
    const c = await start(
      "vmstat",
      ["-m", "256m", "--device", disk.path, "--device-read-bps", `${disk.path}:1gb`],
      `dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; dd if=${disk.path} of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null; exec sleep 600`,
    );
    const readBytes = async () => {
      const text = await readFile(`${c.cgroup("blkio")}/blkio.throttle.io_service_bytes_recursive`, "utf8");
      return [...text.matchAll(/^\d+:\d+ Read (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const pgfault = async () => Number(/^total_pgfault (\d+)$/m.exec(await readFile(`${c.cgroup("memory")}/memory.stat`, "utf8"))![1]);
    name = c.name;
    await until("the container's 8 MiB read", async () => (await readBytes()) >= 8 * 1024 * 1024);

    const before = { read: await readBytes(), pgfault: await pgfault() };
    const [vmstat = "", summary = ""] = (await exec(c.name, "cat /proc/vmstat; echo ---; vmstat -s")).split("---\n");
    const after = { read: await readBytes(), pgfault: await pgfault() };
    const line = (label: string) => Number(new RegExp(`^\\s*(\\d+) ${label}$`, "m").exec(summary)?.[1] ?? NaN);
    const value = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, "m").exec(vmstat)?.[1] ?? NaN);
    const hostSummary = execa("vmstat", ["-s"]);
    t.log(
      summary
        .split("\n")
        .filter((l) => /paged|swapped/.test(l))
        .map((l) => l.trim())
        .join(" | "),
      `| pgfault ${value("pgfault")}`,
    );
    const pagedIn = line("K paged in");
    t.true(
      Math.floor(before.read / 1024) <= pagedIn && pagedIn <= Math.floor(after.read / 1024),
      `K paged in: ${before.read / 1024} ≤ ${pagedIn}`,
    );
    t.true(pagedIn >= 8192, "its 8 MiB read");
    t.is(line("K paged out"), value("pgpgout"));
    t.is(line("pages swapped in"), 0);
    t.is(line("pages swapped out"), 0);
    t.true(
      before.pgfault <= value("pgfault") && value("pgfault") <= after.pgfault,
      `pgfault ${before.pgfault} ≤ ${value("pgfault")} ≤ ${after.pgfault}`,
    );
    t.true(value("pgfault") >= 16384, "the 64 MiB buffer's faults");
    const hostPagedIn = Number(/^\s*(\d+) K paged in$/m.exec(String((await hostSummary).stdout))?.[1]);
    t.not(pagedIn, hostPagedIn, "not the host's");
  } finally {
    // The container first: the loop device is in use until it is gone.
    if (name !== undefined) await podmanRemove(name);
    await disk.detach();
  }
});

test.serial("the runc here accepts a spec mount on exactly the /proc files of the NRI plugin's allow-list", async (t) => {
  for (const file of VIEW_FILES.filter((f) => f.startsWith("proc/"))) {
    const destination = `/${file}`;
    // A bind in config.json, as an NRI adjustment puts it there: runc checks it before the container starts.
    const r = await podmanRun({ rootfs, args: ["-v", `/proc/meminfo:${destination}:ro`], cmd: ["/bin/true"] });
    if (RUNC_PROC_MOUNTS.has(destination)) t.is(r.exitCode, 0, `${destination}: ${r.stderr.trim()}`);
    else t.regex(r.stderr, /cannot be mounted because it is inside \/proc/, destination);
  }
});
