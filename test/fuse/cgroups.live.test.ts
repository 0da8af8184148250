// procview mounted for real, readers started inside real cgroup v1 groups with real limits:
// what each reader reads is what a container would.
import test from "ava";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerContainer, startProcview, type RunningProcview } from "../../testbed/procview.js";
import { waitFor } from "../../testbed/wait.js";
import { countProcessors, createCgroup, readKb, rootProcsFiles, runInCgroup, uniqueName, type TestCgroup } from "../../testbed/cgroups.js";

let service: RunningProcview;
const groups: TestCgroup[] = [];

test.before(async () => {
  // Load samples every 200 ms instead of 5 s (each still one of the kernel's 5-second steps), so a
  // load average moves in seconds.
  service = await startProcview({ extraArgs: ["--load-interval-ms", "200"] });
});
test.after.always(async () => {
  await service?.stop();
  for (const group of groups.reverse()) await group.remove();
});

const file = (relative: string) => join(service.mountPoint, relative);
const hostMemTotalKb = () => readKb(readFileSync("/proc/meminfo", "utf8"), "MemTotal");

function group(settings: Parameters<typeof createCgroup>[0]): TestCgroup {
  const created = createCgroup(settings);
  groups.push(created);
  return created;
}

test("a reader limited to 256 MiB, cpuset 0 and half a CPU sees exactly that", async (t) => {
  const limited = group({ memoryLimitBytes: 256 * 1024 * 1024, cpus: "0", cfsQuotaUs: 50_000, cfsPeriodUs: 100_000 });
  const read = (relative: string) => runInCgroup(limited.procsFiles(), ["cat", file(relative)]);

  const meminfo = await read("proc/meminfo");
  t.regex(meminfo, /^MemTotal:\s+262144 kB$/m);
  t.true(readKb(meminfo, "MemFree") <= 262144);
  t.true(readKb(meminfo, "MemAvailable") <= 262144);
  t.is(countProcessors(await read("proc/cpuinfo")), 1);
  t.is(await read("sys/devices/system/cpu/online"), "0");
  t.is(await read("sys/devices/system/cpu/possible"), "0");
  t.is(await read("sys/devices/system/cpu/present"), "0");
  const stat = await read("proc/stat");
  t.deepEqual(
    stat
      .split("\n")
      .filter((l) => /^cpu\d+ /.test(l))
      .map((l) => l.split(" ")[0]),
    ["cpu0"],
  );
  t.regex(stat, /^cpu {2}\d+ 0 \d+ \d+ 0 0 0 0 0 0$/m);
  t.regex(await read("proc/loadavg"), /^\d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+$/);
});

test("the quota rule: 150000/100000 on both CPUs shows two, 50000/100000 shows one, no quota shows the cpuset", async (t) => {
  const count = async (settings: Parameters<typeof createCgroup>[0]) =>
    countProcessors(await runInCgroup(group(settings).procsFiles(), ["cat", file("proc/cpuinfo")]));
  t.is(await count({ cpus: "0-1", cfsQuotaUs: 150_000, cfsPeriodUs: 100_000 }), 2);
  t.is(await count({ cpus: "0-1", cfsQuotaUs: 50_000, cfsPeriodUs: 100_000 }), 1);
  t.is(await count({ cpus: "1" }), 1);
  t.is(await count({ cpus: "0-1" }), 2);
});

test("a limit set only on the parent cgroup applies to a reader in its child", async (t) => {
  const parentName = uniqueName();
  group({ path: parentName, memoryLimitBytes: 128 * 1024 * 1024, cfsQuotaUs: 100_000, cfsPeriodUs: 100_000 });
  const child = group({ path: `${parentName}/container` });
  const meminfo = await runInCgroup(child.procsFiles(), ["cat", file("proc/meminfo")]);
  t.regex(meminfo, /^MemTotal:\s+131072 kB$/m);
  t.is(countProcessors(await runInCgroup(child.procsFiles(), ["cat", file("proc/cpuinfo")])), 1);
});

test("a reader in the root cgroup gets the host's MemTotal and CPUs", async (t) => {
  const meminfo = await runInCgroup(rootProcsFiles(), ["cat", file("proc/meminfo")]);
  t.is(readKb(meminfo, "MemTotal"), hostMemTotalKb());
  const online = await runInCgroup(rootProcsFiles(), ["cat", file("sys/devices/system/cpu/online")]);
  t.is(online, readFileSync("/sys/devices/system/cpu/online", "utf8").trim());
  const cpuinfo = await runInCgroup(rootProcsFiles(), ["cat", file("proc/cpuinfo")]);
  t.is(countProcessors(cpuinfo), countProcessors(readFileSync("/proc/cpuinfo", "utf8")));
});

test("a reader in a new pid namespace reads an uptime of a few seconds at most", async (t) => {
  const limited = group({ memoryLimitBytes: 512 * 1024 * 1024 });
  const uptime = await runInCgroup(limited.procsFiles(), ["unshare", "--pid", "--fork", "--mount-proc", "cat", file("proc/uptime")]);
  const [up, idle] = uptime.split(" ").map(Number);
  t.true(up! >= 0 && up! < 5, `uptime ${uptime}`);
  t.true(idle! >= 0 && idle! <= up! * 2 + 0.01, `idle ${uptime}`);
  const hostUptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  t.true(hostUptime > 5, "the host itself has been up longer, so the view really differs");
});

test("two readers in two cgroups with different limits, reading at the same time, each get their own", async (t) => {
  const small = group({ memoryLimitBytes: 200 * 1024 * 1024, cpus: "0" });
  const large = group({ memoryLimitBytes: 300 * 1024 * 1024, cpus: "0-1" });
  // Each reader reads 200 times in a loop; every single read must carry its own limit.
  const loop = (relative: string) => ["/bin/sh", "-c", 'i=0; while [ $i -lt 200 ]; do cat "$1"; i=$((i+1)); done', "sh", file(relative)];
  const [smallMem, largeMem, smallCpu, largeCpu] = await Promise.all([
    runInCgroup(small.procsFiles(), loop("proc/meminfo"), { timeoutMs: 60_000 }),
    runInCgroup(large.procsFiles(), loop("proc/meminfo"), { timeoutMs: 60_000 }),
    runInCgroup(small.procsFiles(), loop("sys/devices/system/cpu/online"), { timeoutMs: 60_000 }),
    runInCgroup(large.procsFiles(), loop("sys/devices/system/cpu/online"), { timeoutMs: 60_000 }),
  ]);
  const totals = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith("MemTotal:"))
      .map((l) => l.replace(/\s+/g, " "));
  t.deepEqual(new Set(totals(smallMem)), new Set(["MemTotal: 204800 kB"]));
  t.is(totals(smallMem).length, 200);
  t.deepEqual(new Set(totals(largeMem)), new Set(["MemTotal: 307200 kB"]));
  t.deepEqual(new Set(smallCpu.split("\n")), new Set(["0"]));
  t.deepEqual(new Set(largeCpu.split("\n")), new Set(["0-1"]));
});

test("the load average of a busy container starts at zero and rises with each sample, the 1-minute one fastest", async (t) => {
  const busy = group({ memoryLimitBytes: 256 * 1024 * 1024 });
  const loadavg = () => runInCgroup(busy.procsFiles(), ["cat", file("proc/loadavg")]);
  const loads = (text: string) => text.split(" ").slice(0, 3).map(Number) as [number, number, number];
  // Two processes spinning in the group until the test removes their file.
  const spinning = join(mkdtempSync(join(tmpdir(), "procview-spin-")), "spinning");
  writeFileSync(spinning, "");
  const spin = `while [ -e "${spinning}" ]; do :; done`;
  const spinners = runInCgroup(busy.procsFiles(), ["/bin/sh", "-c", `(${spin}) & (${spin}) & wait`], { timeoutMs: 120_000 });
  try {
    // The first read registers the container for sampling: nothing sampled yet.
    t.deepEqual(loads(await loadavg()), [0, 0, 0]);
    // Two always-runnable tasks: load1 = 2·(1 − (1884/2048)^n) after n samples, ≥ 1 from the 9th.
    const risen = await waitFor("a 1-minute load of at least 1", async () => {
      const text = await loadavg();
      return loads(text)[0] >= 1 && text;
    });
    const [load1, load5, load15] = loads(risen);
    t.true(load1 > load5 && load5 > load15 && load15 > 0, `loadavg ${risen}`);
    t.regex(risen, / \d+\/\d+ \d+$/);
  } finally {
    rmSync(spinning);
    await spinners;
  }
});

test("a reader that keeps the file open and reads it again from offset 0 gets fresh numbers, as top and free do", async (t) => {
  const limited = group({ memoryLimitBytes: 256 * 1024 * 1024 });
  const limitFile = join(limited.dir("memory"), "memory.limit_in_bytes");
  // Inside the cgroup: read meminfo, change the cgroup's limit, pread from 0 on the same descriptor.
  const script = `
    const fs = require("fs");
    const [file, limit] = process.argv.slice(1);
    const fd = fs.openSync(file, "r");
    const read = () => { const b = Buffer.alloc(65536); return b.toString("utf8", 0, fs.readSync(fd, b, 0, b.length, 0)); };
    const total = (text) => /^MemTotal:\\s+(\\d+) kB$/m.exec(text)[1];
    const before = total(read());
    fs.writeFileSync(limit, String(128 * 1024 * 1024));
    // The numbers are reused for --cache-ms: read from 0 again until they change (or 10 s pass).
    const until = Date.now() + 10000;
    const poll = () => {
      const now = total(read());
      if (now === before && Date.now() < until) return setTimeout(poll, 10);
      console.log(before + " " + now);
      fs.closeSync(fd);
    };
    poll();
  `;
  const out = await runInCgroup(limited.procsFiles(), [process.execPath, "-e", script, file("proc/meminfo"), limitFile]);
  t.is(out, "262144 131072");
});

test("sendfile readers (busybox cat) in two containers reading at the same time each get their own", async (t) => {
  const small = group({ memoryLimitBytes: 200 * 1024 * 1024 });
  const large = group({ memoryLimitBytes: 300 * 1024 * 1024 });
  // busybox cat copies with sendfile, which goes through the page cache of the file's inode:
  // each container reads its own copy of the layout, as the hook and the NRI plugin bind it
  // (registered by its cgroup, as the NRI plugin does).
  registerContainer(service.mountPoint, "ctr-small", { cgroupsPath: small.path });
  registerContainer(service.mountPoint, "ctr-large", { cgroupsPath: large.path });
  const loop = (id: string) => [
    "/bin/sh",
    "-c",
    'i=0; while [ $i -lt 300 ]; do busybox cat "$1"; i=$((i+1)); done',
    "sh",
    file(`containers/${id}/proc/meminfo`),
  ];
  const [smallOut, largeOut] = await Promise.all([
    runInCgroup(small.procsFiles(), loop("ctr-small"), { timeoutMs: 60_000 }),
    runInCgroup(large.procsFiles(), loop("ctr-large"), { timeoutMs: 60_000 }),
  ]);
  const totals = (text: string) =>
    text
      .split("\n")
      .filter((l) => l.startsWith("MemTotal:"))
      .map((l) => l.replace(/\s+/g, " "));
  t.is(totals(smallOut).length, 300);
  t.deepEqual(new Set(totals(smallOut)), new Set(["MemTotal: 204800 kB"]));
  t.is(totals(largeOut).length, 300);
  t.deepEqual(new Set(totals(largeOut)), new Set(["MemTotal: 307200 kB"]));
});
