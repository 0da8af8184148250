// Cgroup files read through kept descriptors, on the real cgroup v1 memory hierarchy: every read
// is fresh, a removed cgroup reads as gone, and a new cgroup of the same name is read, not the old.
import test from "ava";
import { mkdirSync, rmdirSync, writeFileSync } from "node:fs";
import { openUnder } from "../support/proc-self.js";
import { join } from "node:path";
import { readCgroupValue } from "../../fuse/cgroup/read.js";
import { readReaderMembership } from "../../fuse/cgroup/membership.js";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { uniqueName } from "../../testbed/cgroups.js";
import { KEPT_IDLE_MS, KeptSweeper, createKeptRegistryBuffers, useKeptRegistry } from "../../fuse/cgroup/kept-files.js";

test("a kept descriptor reads the value of now, and follows the cgroup being removed and made again", (t) => {
  const dir = join("/sys/fs/cgroup/memory", uniqueName("procview-kept"));
  const limit = join(dir, "memory.limit_in_bytes");
  mkdirSync(dir);
  try {
    writeFileSync(limit, String(256 * 1024 * 1024));
    t.is(readCgroupValue(limit), "268435456");
    writeFileSync(limit, String(128 * 1024 * 1024));
    t.is(readCgroupValue(limit), "134217728", "the same descriptor, read again from 0, sees the change");
    rmdirSync(dir);
    t.is(readCgroupValue(limit), null, "removed: gone, not an error and not the old value");
    mkdirSync(dir);
    writeFileSync(limit, String(64 * 1024 * 1024));
    t.is(readCgroupValue(limit), "67108864", "made again: the new cgroup's value");
  } finally {
    try {
      rmdirSync(dir);
    } catch {
      // already removed by the test
    }
  }
});

test("a reader's /proc/<pid>/cgroup is re-read through its kept descriptor, and a process that exited is gone", async (t) => {
  const dir = join("/sys/fs/cgroup/memory", uniqueName("procview-kept-pid"));
  mkdirSync(dir);
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    const pid = child.pid!;
    const first = readReaderMembership("/proc", pid);
    t.truthy(first);
    t.true(first!.opened, "first read opens the file");
    const target = dir.slice("/sys/fs/cgroup/memory".length);
    t.not(first!.membership.v1.get("memory"), target);
    writeFileSync(join(dir, "cgroup.procs"), String(pid));
    const moved = readReaderMembership("/proc", pid);
    t.false(moved!.opened, "the kept descriptor is read again");
    t.is(moved!.membership.v1.get("memory"), target, "and sees the move at once");
    child.kill("SIGKILL");
    await once(child, "exit");
    // The kept descriptor names the exited process (ESRCH), never a process that reuses its pid.
    t.is(readReaderMembership("/proc", pid), null);
  } finally {
    child.kill("SIGKILL");
    rmdirSync(dir);
  }
});

test("another thread closes kept descriptors that are idle or whose cgroup is gone; the next read opens afresh", (t) => {
  const registry = createKeptRegistryBuffers(1, 64);
  useKeptRegistry(registry, 0);
  const sweeper = new KeptSweeper(registry);
  const dir = join("/sys/fs/cgroup/memory", uniqueName("procview-kept-sweep"));
  const limit = join(dir, "memory.limit_in_bytes");
  mkdirSync(dir);
  try {
    writeFileSync(limit, String(256 * 1024 * 1024));
    t.is(readCgroupValue(limit), "268435456");
    t.is(openUnder(dir), 1);
    sweeper.sweep();
    t.is(openUnder(dir), 1, "read just now, and its cgroup is there: kept");
    sweeper.sweep(Date.now() + KEPT_IDLE_MS + 1000);
    t.is(openUnder(dir), 0, "idle past the lifetime: closed");
    writeFileSync(limit, String(128 * 1024 * 1024));
    t.is(readCgroupValue(limit), "134217728", "opened again, transparently");
    t.is(openUnder(dir), 1);
    rmdirSync(dir);
    sweeper.sweep();
    t.is(openUnder(dir), 0, "its cgroup removed: closed at the next sweep");
    t.is(readCgroupValue(limit), null);
  } finally {
    try {
      rmdirSync(dir);
    } catch {
      // already removed by the test
    }
  }
});
