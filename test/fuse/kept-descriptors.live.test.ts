// The cgroup files procview keeps open are closed once their cgroup is removed, even when no
// request comes to wake the serving threads: an idle service pins no dead cgroup.
import test from "ava";
import { readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { servingPid, startProcview, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";

let service: RunningProcview;
const groups: TestCgroup[] = [];

test.before(async () => {
  service = await startProcview();
});
test.after.always(async () => {
  await service?.stop();
  for (const group of groups) await group.remove();
});

/** The serving process's descriptors that name a file of one of `names`' cgroups. */
function keptOf(pid: number, names: string[]): number {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (names.some((name) => target.includes(`/${name}/`))) count++;
  }
  return count;
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

test("descriptors of removed cgroups are closed while the service is idle", async (t) => {
  const mine = Array.from({ length: 40 }, () => createCgroup({ memoryLimitBytes: 128 * 1024 * 1024 }));
  groups.push(...mine);
  const names = mine.map((g) => g.path.slice(1));
  const files = ["proc/meminfo", "proc/cpuinfo", "proc/stat", "proc/diskstats"].map((f) => join(service.mountPoint, f));
  for (const group of mine) await runInCgroup(group.procsFiles(), ["cat", ...files]);
  const pid = await servingPid(service.mountPoint);
  const before = keptOf(pid, names);
  t.log(`${before} descriptors of the ${mine.length} cgroups kept after their reads`);
  t.true(before >= mine.length, "the reads keep their cgroup files open");
  for (const group of mine) await group.remove();
  groups.length = 0;
  // No reads from now on: only the service's own sweep can close them.
  const took = await waitFor("descriptors of removed cgroups closed", () => keptOf(pid, names) === 0, 15_000);
  t.log(`all closed ${took} ms after the last removal`);
  t.pass();
});
