// Against the live machine's cgroup v1 memory hierarchy (needs root and a v1 memory mount).
import test, { type ExecutionContext } from "ava";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { detectLayout } from "../../fuse/cgroup/layout.js";
import { resolveCaller } from "../../fuse/cgroup/caller.js";
import { readMemoryNumbers } from "../../fuse/cgroup/memory.js";
import { readTaskNumbers } from "../../fuse/cgroup/tasks.js";
import { removeCgroupDir } from "../../testbed/cgroups.js";

const MEMORY_ROOT = "/sys/fs/cgroup/memory";
// This tier is never skipped: on a machine that cannot run it, it fails and says why.
test.before(() => {
  if (process.getuid?.() !== 0) throw new Error("the live cgroup tests need root (they create cgroups under /sys/fs/cgroup)");
  if (!existsSync(join(MEMORY_ROOT, "memory.limit_in_bytes")))
    throw new Error(`the live cgroup tests need a cgroup v1 memory hierarchy at ${MEMORY_ROOT}`);
});
const live = test.serial;

/** Makes `relative` (and parents, deepest removed first at teardown) and a sleep inside the leaf. */
async function sleeperIn(t: ExecutionContext, parts: string[], limits: Record<string, number>): Promise<ChildProcess> {
  const made: string[] = [];
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      }
    }
    for (const dir of made.reverse()) await removeCgroupDir(dir);
  });
  let dir = MEMORY_ROOT;
  for (const part of parts) {
    dir = join(dir, part);
    mkdirSync(dir);
    made.push(dir);
  }
  for (const [relative, bytes] of Object.entries(limits))
    writeFileSync(join(MEMORY_ROOT, relative, "memory.limit_in_bytes"), String(bytes));
  const child = spawn("sleep", ["60"], { stdio: "ignore" });
  children.push(child);
  await new Promise((resolve, reject) => child.once("spawn", resolve).once("error", reject));
  writeFileSync(join(dir, "cgroup.procs"), String(child.pid));
  return child;
}

live("live v1: a 256M memory cgroup is read through caller.ts and memory.ts", async (t) => {
  const name = `procview-test-${randomBytes(4).toString("hex")}`;
  const child = await sleeperIn(t, [name], { [name]: 256 * 1024 * 1024 });
  const layout = detectLayout();
  t.not(layout.mode, "v2");
  const caller = resolveCaller(child.pid!, { layout });
  if (!caller) return t.fail("sleep vanished");
  t.is(caller.paths.memory, `/${name}`);
  t.true(caller.sameNsAsSelf);
  t.false(caller.isHost);
  t.is(caller.nsInitPid, 1);
  const memory = readMemoryNumbers(layout, caller.paths);
  t.is(memory?.limitBytes, 268435456);
  t.is(memory?.usageBytes, Number(readFileSync(join(MEMORY_ROOT, name, "memory.usage_in_bytes"), "utf8")));
  // The memory hierarchy isn't the task hierarchy (cpuacct is), so count via a memory-only layout.
  const tasks = readTaskNumbers({ ...layout, mounts: { memory: layout.mounts.memory } }, caller.paths);
  t.is(tasks?.total, 1);
  t.is(tasks?.lastPid, child.pid);
});

live("live v1: a limit set only on the parent applies to the child cgroup", async (t) => {
  const name = `procview-test-${randomBytes(4).toString("hex")}`;
  const child = await sleeperIn(t, [name, "ctr"], { [name]: 256 * 1024 * 1024 });
  const layout = detectLayout();
  const caller = resolveCaller(child.pid!, { layout });
  if (!caller) return t.fail("sleep vanished");
  t.is(caller.paths.memory, `/${name}/ctr`);
  const memory = readMemoryNumbers(layout, caller.paths);
  t.is(memory?.limitBytes, 268435456);
  // With swap accounting (memsw files), no memsw limit anywhere means swap unlimited; without, no swap numbers.
  if (existsSync(join(MEMORY_ROOT, name, "ctr", "memory.memsw.limit_in_bytes"))) t.is(memory?.swap?.limitBytes, null);
  else t.is(memory?.swap, null);
});

live("live: a pid that exits resolves to null, not an error", async (t) => {
  const child = spawn("true", [], { stdio: "ignore" });
  await new Promise((r) => child.once("exit", r));
  t.is(resolveCaller(child.pid!, { layout: detectLayout() }), null);
});
