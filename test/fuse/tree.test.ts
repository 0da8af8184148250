// Node ids are cached by the kernel across a reload into newer code: each keeps its meaning.
import test from "ava";
import { Tree } from "../../fuse/server/tree.js";
import { FUSE_ROOT_ID } from "../../fuse/kernel/protocol.js";

function idOf(tree: Tree, path: string): number | undefined {
  let ino: number | undefined = FUSE_ROOT_ID;
  for (const part of path.split("/")) ino = ino === undefined ? undefined : tree.child(ino, part);
  return ino;
}

test("the node ids of the first layout never change; files added later get ids after containers/", (t) => {
  const tree = new Tree();
  const first = [
    "proc",
    "proc/meminfo",
    "proc/cpuinfo",
    "proc/stat",
    "proc/uptime",
    "proc/loadavg",
    "proc/diskstats",
    "proc/swaps",
    "sys",
    "sys/devices",
    "sys/devices/system",
    "sys/devices/system/cpu",
    "sys/devices/system/cpu/online",
    "sys/devices/system/cpu/possible",
    "sys/devices/system/cpu/present",
    "sys/devices/system/cpu/offline",
    "containers",
  ];
  t.deepEqual(
    first.map((p) => idOf(tree, p)),
    first.map((_, i) => i + 2),
  );
  for (const later of ["proc/pressure", "proc/pressure/cpu", "proc/pressure/memory", "proc/pressure/io", "proc/vmstat", "proc/slabinfo"]) {
    t.true(idOf(tree, later)! > idOf(tree, "containers")!, later);
  }
  t.is(tree.node(idOf(tree, "containers")!)?.children?.size, 0);
  t.is((tree.node(idOf(tree, "proc/slabinfo")!)?.attr.mode ?? 0) & 0o777, 0o400);
  t.truthy(idOf(tree, "containers/abc/proc/pressure/memory"));
});
