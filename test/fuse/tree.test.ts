// Node ids are cached by the kernel across a reload into newer code: each keeps its meaning. And
// the served files a mount root names, as restore finds them.
import test from "ava";
import { Tree } from "../../fuse/server/tree.js";
import { FUSE_ROOT_ID } from "../../fuse/kernel/protocol.js";
import { servedFile } from "../../fuse/keeper/restore.js";
import { CONTAINERS_SOURCE, VIEW_NAMES } from "../../core/layout.js";

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

test("a dead view's mount root says which served file it was: the top-level tree's, its containers/ copies, the per-container tree's own", (t) => {
  t.deepEqual(servedFile("/proc/meminfo", "procview"), { file: "/proc/meminfo" });
  t.deepEqual(servedFile("/containers/abc/proc/meminfo", "procview"), { file: "/containers/abc/proc/meminfo", id: "abc" });
  t.deepEqual(servedFile("/abc/sys/devices/system/cpu/online", CONTAINERS_SOURCE), {
    file: "/containers/abc/sys/devices/system/cpu/online",
    id: "abc",
  });
  t.is(servedFile("/proc/meminfo", CONTAINERS_SOURCE), null, "the per-container tree has no top-level files");
  t.is(servedFile("/etc/passwd", "procview"), null);
  t.is(servedFile("/containers/-bad/proc/meminfo", "procview"), null);
  t.is(servedFile("/abc/proc/nothing", CONTAINERS_SOURCE), null);
});

test("the files of a container's copy: every view, node ids of that container only", (t) => {
  const tree = new Tree();
  const files = tree.containerFiles("abc");
  t.is(files.length, VIEW_NAMES.length);
  for (const { ino, view } of files) {
    t.is(tree.node(ino)?.view, view);
    t.is(tree.hashOf(ino), tree.hashOf(tree.containerIno("abc")));
  }
  t.not(tree.hashOf(tree.containerIno("abc")), tree.hashOf(tree.containerIno("abd")));
});
