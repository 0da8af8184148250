// Pressure and vmstat from real cgroups: stall or fault in one cgroup, read procview's file as a
// process of that cgroup and of a neighbour, and compare with what the kernel says of each cgroup
// just before and just after the read.
import test from "ava";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startProcview, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, uniqueName, type TestCgroup } from "../../testbed/cgroups.js";
import { attachLoopDevice } from "../../testbed/loop-device.js";

let service: RunningProcview;
const groups: TestCgroup[] = [];
const scratch: string[] = [];

test.before(async () => {
  service = await startProcview();
});
test.after.always(async () => {
  await service?.stop();
  for (const group of groups.reverse()) await group.remove();
  for (const file of scratch) rmSync(file, { force: true });
});

const file = (relative: string) => join(service.mountPoint, relative);

function group(settings: Parameters<typeof createCgroup>[0]): TestCgroup {
  const created = createCgroup(settings);
  groups.push(created);
  return created;
}

interface Totals {
  some: number;
  full: number | null;
  text: string;
}

function totals(text: string): Totals {
  const total = (kind: string) => {
    const m = new RegExp(`^${kind} avg10=\\d+\\.\\d\\d avg60=\\d+\\.\\d\\d avg300=\\d+\\.\\d\\d total=(\\d+)$`, "m").exec(text);
    return m ? Number(m[1]) : null;
  };
  const some = total("some");
  if (some === null) throw new Error(`not a pressure file: ${JSON.stringify(text)}`);
  return { some, full: total("full"), text };
}

const kernelPressure = (g: TestCgroup, resource: string): Totals =>
  totals(readFileSync(join(g.unifiedDir!, `${resource}.pressure`), "utf8"));

async function until(what: string, ok: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** procview's pressure file read by a process of `g`, between two reads of the kernel's own. */
async function bracketedPressure(g: TestCgroup, resource: string): Promise<{ before: Totals; seen: Totals; after: Totals }> {
  const before = kernelPressure(g, resource);
  const seen = totals(await runInCgroup(g.procsFiles(), ["cat", file(`proc/pressure/${resource}`)]));
  const after = kernelPressure(g, resource);
  return { before, seen, after };
}

function assertWithin(t: import("ava").ExecutionContext, b: { before: Totals; seen: Totals; after: Totals }, label: string): void {
  t.true(b.before.some <= b.seen.some && b.seen.some <= b.after.some, `${label} some ${b.before.some} ≤ ${b.seen.some} ≤ ${b.after.some}`);
  if (b.seen.full !== null) {
    t.true(
      b.before.full! <= b.seen.full && b.seen.full <= b.after.full!,
      `${label} full ${b.before.full} ≤ ${b.seen.full} ≤ ${b.after.full}`,
    );
  }
  t.is(b.seen.text.trimEnd().split("\n").length, b.after.text.trimEnd().split("\n").length, `${label}: the kernel's lines`);
}

test("cpu pressure: three busy loops on one CPU show in their cgroup's proc/pressure/cpu, not in a neighbour's", async (t) => {
  const busy = group({ cpus: "0", unified: true });
  const quiet = group({ cpus: "1", unified: true });
  const loops = runInCgroup(busy.procsFiles(), ["/bin/sh", "-c", "for i in 1 2 3; do timeout 6 sh -c 'while :; do :; done' & done; wait"], {
    timeoutMs: 30_000,
  });
  try {
    // The averages are updated every 2 s, the total at once: wait for both.
    await until("1 s of cpu pressure in the busy cgroup, in its 10 s average too", () => {
      const now = kernelPressure(busy, "cpu");
      return now.some >= 1_000_000 && !now.text.startsWith("some avg10=0.00 ");
    });
    const own = await bracketedPressure(busy, "cpu");
    const neighbour = await bracketedPressure(quiet, "cpu");
    t.log(`busy: ${own.seen.text.trim().replace(/\n/g, " | ")}; neighbour: ${neighbour.seen.text.trim().replace(/\n/g, " | ")}`);
    assertWithin(t, own, "busy");
    assertWithin(t, neighbour, "neighbour");
    t.true(own.seen.some >= 1_000_000, "the stall its own loops caused");
    t.true(neighbour.seen.some < own.seen.some / 4, "the neighbour never waited like that");
    t.regex(own.seen.text, /^some avg10=(?!0\.00)/, "the 10 s average shows it too");
  } finally {
    await loops.catch(() => undefined);
  }
});

test("memory pressure: memory charged in a limited cgroup shows in its proc/pressure/memory, not in a neighbour's", async (t) => {
  const tight = group({ memoryLimitBytes: 32 * 1024 * 1024, unified: true });
  const roomy = group({ memoryLimitBytes: 512 * 1024 * 1024, unified: true });
  const data = join("/var/tmp", `${uniqueName()}.dat`);
  scratch.push(data);
  // Written inside the cgroup, so its page cache is charged there (a file cached by another
  // cgroup charges nothing): 128 MiB through a 32 MiB limit means reclaim, i.e. memory stalls.
  await runInCgroup(
    tight.procsFiles(),
    ["/bin/sh", "-c", 'dd if=/dev/zero of="$1" bs=1M count=128 2>/dev/null && cat "$1" > /dev/null && cat "$1" > /dev/null', "sh", data],
    { timeoutMs: 60_000 },
  );
  await until("memory pressure in the limited cgroup", () => kernelPressure(tight, "memory").some > 0);
  const own = await bracketedPressure(tight, "memory");
  const neighbour = await bracketedPressure(roomy, "memory");
  t.log(`limited: ${own.seen.text.trim().replace(/\n/g, " | ")}; neighbour: ${neighbour.seen.text.trim().replace(/\n/g, " | ")}`);
  assertWithin(t, own, "limited");
  assertWithin(t, neighbour, "neighbour");
  t.true(own.seen.some > 0);
  t.true(neighbour.seen.some < own.seen.some, "the neighbour had no reclaim to wait for");
  assertWithin(t, await bracketedPressure(tight, "io"), "limited, io");
});

function memoryStatTotal(g: TestCgroup, key: string): number {
  const m = new RegExp(`^total_${key} (\\d+)$`, "m").exec(readFileSync(join(g.dir("memory"), "memory.stat"), "utf8"));
  if (!m) throw new Error(`no total_${key} in ${g.path}'s memory.stat`);
  return Number(m[1]);
}

function vmstatValue(text: string, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  if (!m) throw new Error(`no ${key} line in proc/vmstat`);
  return Number(m[1]);
}

test("vmstat: page faults and block I/O done in one cgroup show in its proc/vmstat, not in a neighbour's", async (t) => {
  const faulting = group({ memoryLimitBytes: 512 * 1024 * 1024 });
  const neighbour = group({ memoryLimitBytes: 512 * 1024 * 1024 });
  // cgroup v1's blkio counts a cgroup's I/O on a device only once blk-throttle is active on it
  // (a rule set by anyone): a rule far above any real rate, on a loop device of our own.
  const disk = await attachLoopDevice(16 * 1024 * 1024);
  try {
    writeFileSync(join(faulting.dir("blkio"), "blkio.throttle.read_bps_device"), `${disk.majorMinor} 1099511627776`);
    // A 64 MiB buffer filled once: at least 16384 page faults. Then 8 MiB read and 2 MiB written
    // past the page cache.
    await runInCgroup(faulting.procsFiles(), [
      "/bin/sh",
      "-c",
      'dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null && dd if="$1" of=/dev/null bs=1M count=8 iflag=direct 2>/dev/null && dd if=/dev/zero of="$1" bs=1M count=2 oflag=direct 2>/dev/null',
      "sh",
      disk.path,
    ]);

    const read = async (g: TestCgroup) => {
      const before = memoryStatTotal(g, "pgfault");
      const text = await runInCgroup(g.procsFiles(), ["cat", file("proc/vmstat")]);
      const after = memoryStatTotal(g, "pgfault");
      return { before, text, after, pgfault: vmstatValue(text, "pgfault") };
    };
    const own = await read(faulting);
    const other = await read(neighbour);
    t.log(
      `faulting cgroup: pgfault ${own.pgfault}, pgpgin ${vmstatValue(own.text, "pgpgin")} KiB, pgpgout ${vmstatValue(own.text, "pgpgout")} KiB; neighbour: pgfault ${other.pgfault}, pgpgin ${vmstatValue(other.text, "pgpgin")} KiB; host pgfault ${vmstatValue(readFileSync("/proc/vmstat", "utf8"), "pgfault")}`,
    );
    t.true(own.before <= own.pgfault && own.pgfault <= own.after, `${own.before} ≤ ${own.pgfault} ≤ ${own.after}`);
    t.true(own.pgfault >= 16384, "the 64 MiB buffer's faults");
    t.true(other.before <= other.pgfault && other.pgfault <= other.after, `neighbour ${other.before} ≤ ${other.pgfault} ≤ ${other.after}`);
    t.true(other.pgfault < 16384, "none of them in the neighbour's");
    t.is(vmstatValue(own.text, "pgpgin"), 8192, "8 MiB read from the disk, in KiB");
    t.is(vmstatValue(own.text, "pgpgout"), 2048, "2 MiB written");
    t.is(vmstatValue(other.text, "pgpgin"), 0);
    t.deepEqual(
      own.text
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ")[0]),
      readFileSync("/proc/vmstat", "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ")[0]),
      "every line of the kernel's file, in its order",
    );
    t.is(vmstatValue(own.text, "numa_hit"), 0, "machine-wide allocator counts are not the container's");
  } finally {
    await disk.detach();
  }
});
