// Pure parsers and layout detection on hand-built trees.
import test from "ava";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { controllersOfMountName, detectLayout } from "../../fuse/cgroup/layout.js";
import { parseProcCgroup } from "../../fuse/cgroup/membership.js";
import { parseStat, parseStatus, stateOfStat } from "../../fuse/cgroup/process.js";
import { containerPaths, isAncestorOrSelf, keyOf, withoutInitScope } from "../../fuse/cgroup/caller.js";
import { parentPaths, readOrAncestor } from "../../fuse/cgroup/ancestors.js";
import { OnceLog, describeProblem } from "../../fuse/server/problems.js";
import { memoryStatFromV1, memoryStatFromV2, parseLimit } from "../../fuse/cgroup/memory.js";
import { parseCpuList, parseCpuMax, parseCpuacctStat, parseCpuStatV2, parseUsageAll, parseV1Quota } from "../../fuse/cgroup/cpu.js";
import { foldV1RwStat, parseIoStat } from "../../fuse/cgroup/io.js";
import { CgroupReadError, FlatKey, parseFlatKeyed, selfAndAncestors } from "../../fuse/cgroup/read.js";
import type { IoDeviceNumbers } from "../../fuse/cgroup/types.js";

test("parseProcCgroup: v1 hybrid with comma-combined and named hierarchies, colons in paths", (t) => {
  const m = parseProcCgroup("12:cpu,cpuacct:/docker/abc\n11:name=systemd:/x\n4:memory:/a:b\n3:net_cls,net_prio:/\n0::/user.slice\n");
  t.is(m.v1.get("cpu"), "/docker/abc");
  t.is(m.v1.get("cpuacct"), "/docker/abc");
  t.is(m.v1.get("name=systemd"), "/x");
  t.is(m.v1.get("memory"), "/a:b");
  t.is(m.v1.get("net_prio"), "/");
  t.is(m.v2, "/user.slice");
  const v2 = parseProcCgroup("0::/kubepods.slice/pod.slice/cri-containerd-1.scope\n");
  t.is(v2.v1.size, 0);
  t.is(v2.v2, "/kubepods.slice/pod.slice/cri-containerd-1.scope");
});

test("parseStat: comm with spaces and parentheses; field 22", (t) => {
  const text =
    "3050 (a) b (c) ) R 3000 3050 3050 0 -1 4194560 1043 0 0 0 12 7 0 0 20 0 1 0 100500 2453504 300 18446744073709551615 1 1 0\n";
  t.deepEqual(parseStat(text), { state: "R", startTicks: 100500 });
  t.is(stateOfStat(text), "R");
  t.throws(() => parseStat("1 (x) S 0 0"), { instanceOf: CgroupReadError });
});

test("parseStatus: PPid and nested NSpid", (t) => {
  t.deepEqual(parseStatus("Name:\tx\nTgid:\t9\nPid:\t9\nPPid:\t4\nNSpid:\t9\t5\t1\nVmPeak:\t1 kB\n"), { ppid: 4, nspid: [9, 5, 1] });
  t.throws(() => parseStatus("Name:\tx\nPPid:\t4\n", "/proc/9/status"), { message: /\/proc\/9\/status/ });
});

test("container rule: ancestor init wins, sibling init does not", (t) => {
  const all = (p: string) => ({ memory: p, cpu: p, cpuacct: p, cpuset: p, blkio: p, pids: p });
  t.deepEqual(containerPaths(all("/c/system.slice/x"), all("/c")), all("/c"));
  t.deepEqual(containerPaths(all("/pod/app"), all("/pod/pause")), all("/pod/app"));
  t.false(isAncestorOrSelf("/c", "/cc/x"));
  t.true(isAncestorOrSelf("/", "/anything"));
  t.is(keyOf(all("/c")), "/c");
  const mixed = { ...all("/c"), pids: "/" };
  t.is(keyOf(mixed), JSON.stringify(["/c", "/c", "/c", "/c", "/c", "/"]));
  t.not(keyOf(mixed), keyOf(all("/c")));
});

test("selfAndAncestors", (t) => {
  t.deepEqual(selfAndAncestors("/a/b/c"), ["/a/b/c", "/a/b", "/a", "/"]);
  t.deepEqual(selfAndAncestors("/"), ["/"]);
});

test("parseLimit: v1 unlimited on 4K and 64K pages, v2 max, numbers", (t) => {
  t.is(parseLimit("9223372036854771712\n"), null);
  t.is(parseLimit("9223372036854710272"), null);
  t.is(parseLimit("max\n"), null);
  t.is(parseLimit("268435456\n"), 268435456);
  t.throws(() => parseLimit("lots", "/x/memory.max"), { message: /\/x\/memory.max/ });
  t.is(parseLimit(""), null, "an empty limit file limits nothing");
  t.is(parseLimit("\n"), null);
});

test("empty quota files: no quota", (t) => {
  t.is(parseCpuMax(""), null);
  t.is(parseCpuMax("\n"), null);
  t.is(parseV1Quota("", "100000"), null);
  t.is(parseV1Quota("50000", ""), null);
});

test("parseProcCgroup: the ' (deleted)' the kernel appends to a removed cgroup's path is not part of it", (t) => {
  t.is(parseProcCgroup("0::/ctr/app.service (deleted)\n").v2, "/ctr/app.service");
  t.is(parseProcCgroup("0::/a (deleted) b\n").v2, "/a (deleted) b", "only a suffix");
});

test("withoutInitScope: systemd's own scope in a container, never up to the root", (t) => {
  t.is(withoutInitScope("/machine.slice/libpod-1.scope/container/init.scope"), "/machine.slice/libpod-1.scope/container");
  t.is(withoutInitScope("/ctr/system.slice/x.service"), "/ctr/system.slice/x.service");
  t.is(withoutInitScope("/init.scope"), "/init.scope");
  t.is(withoutInitScope("/ctr/not-init.scope"), "/ctr/not-init.scope");
});

test("parentPaths and readOrAncestor: the nearest ancestor that reads, never the root", (t) => {
  const all = (p: string) => ({ memory: p, cpu: p, cpuacct: p, cpuset: p, blkio: p, pids: p });
  t.deepEqual(parentPaths(all("/a/b")), all("/a"));
  t.deepEqual(parentPaths({ ...all("/a"), pids: "/" }), all("/"));
  t.is(parentPaths(all("/")), null);
  const failed: string[] = [];
  const read = (paths: ReturnType<typeof all>) => {
    if (paths.memory !== "/a") throw new CgroupReadError(`${paths.memory}/memory.stat`, "EIO");
    return paths.memory;
  };
  t.is(
    readOrAncestor(all("/a/b/c"), read, (_err, at) => failed.push(at.memory)),
    "/a",
  );
  t.deepEqual(failed, ["/a/b/c", "/a/b"]);
  t.is(
    readOrAncestor(all("/x/y"), read, () => {}),
    undefined,
    "nothing below the root reads: the host's",
  );
  t.is(
    readOrAncestor(
      all("/a/gone"),
      () => null,
      () => {},
    ),
    null,
    "gone is not a failure",
  );
});

test("OnceLog: each problem once, whatever reads it next; a file's problem keyed by its file, a pid's by its kind", (t) => {
  const lines: string[] = [];
  const log = new OnceLog((line) => lines.push(line));
  const eio = (path: string) => new CgroupReadError(path, "cannot read: EIO", { cause: Object.assign(new Error("EIO"), { code: "EIO" }) });
  for (let i = 0; i < 3; i++) log.report(describeProblem("reading memory numbers", "/ctr", eio("/sys/fs/cgroup/ctr/memory.stat")));
  log.report(describeProblem("reading memory numbers", "/other", eio("/sys/fs/cgroup/other/memory.stat")));
  log.report(describeProblem("telling whose container reads", "pid 12", eio("/proc/12/cgroup")));
  log.report(describeProblem("telling whose container reads", "pid 13", eio("/proc/13/cgroup")));
  t.is(lines.length, 3);
  t.regex(lines[0]!, /^reading memory numbers for \/ctr: \/sys\/fs\/cgroup\/ctr\/memory\.stat: cannot read: EIO$/);
});

test("memory.stat: v1 prefers total_* keys; v2 keys; missing keys are 0", (t) => {
  const v1 = memoryStatFromV1("cache 1\nrss 2\ntotal_cache 10\ntotal_rss 20\ntotal_shmem 3\ntotal_mapped_file 4\ntotal_swapcached 5\n");
  t.is(v1.fileBytes, 10);
  t.is(v1.anonBytes, 20);
  t.is(v1.shmemBytes, 3);
  t.is(v1.mappedBytes, 4);
  t.is(v1.swapCachedBytes, 5);
  t.is(v1.slabReclaimableBytes, 0);
  const v2 = memoryStatFromV2("anon 1\nfile 2\nfile_mapped 3\nslab_reclaimable 4\nslab_unreclaimable 5\nfile_dirty 6\nfile_writeback 7\n");
  t.like(v2, {
    anonBytes: 1,
    fileBytes: 2,
    mappedBytes: 3,
    slabReclaimableBytes: 4,
    slabUnreclaimableBytes: 5,
    dirtyBytes: 6,
    writebackBytes: 7,
    shmemBytes: 0,
  });
  t.is(v2.kernelStackBytes, null, "a key this kernel does not report: the host's line stays");
  const more = memoryStatFromV2(
    "kernel_stack 8\npagetables 9\nsec_pagetables 0\npercpu 10\nanon_thp 11\nfile_thp 12\nshmem_thp 13\nzswap 14\nzswapped 15\n",
  );
  t.like(more, {
    kernelStackBytes: 8,
    pageTablesBytes: 9,
    secPageTablesBytes: 0,
    percpuBytes: 10,
    anonHugePagesBytes: 11,
    fileHugePagesBytes: 12,
    shmemHugePagesBytes: 13,
    zswapBytes: 14,
    zswappedBytes: 15,
  });
  const v1Huge = memoryStatFromV1("rss_huge 2097152\ntotal_rss_huge 4194304\n");
  t.is(v1Huge.anonHugePagesBytes, 4194304, "v1: total_rss_huge");
  t.is(v1Huge.kernelStackBytes, null, "v1 has no counterpart");
});

test("FlatKey finds a key's value in the text, never a key it is the prefix or suffix of", (t) => {
  const text = "file 2\nfile_mapped 3\nactive_file 9\nnonsense x\nlast 7";
  t.is(new FlatKey("file").valueIn(text), 2, "on the first line");
  t.is(new FlatKey("file_mapped").valueIn(text), 3);
  t.is(new FlatKey("active_file").valueIn(text), 9);
  t.is(new FlatKey("last").valueIn(text), 7, "on a last line without newline");
  t.is(new FlatKey("mapped").valueIn(text), undefined, "a suffix of another key is not that key");
  t.is(new FlatKey("nonsense").valueIn(text), undefined, "not a number");
  t.is(new FlatKey("absent").valueIn(""), undefined);
  const real = "cache 1\nrss 2\nhierarchical_memory_limit 268435456\ntotal_cache 10\n";
  t.is(new FlatKey("hierarchical_memory_limit").valueIn(real), 268435456);
  for (const [key, value] of parseFlatKeyed(real)) t.is(new FlatKey(key).valueIn(real), value, `agrees with parseFlatKeyed on ${key}`);
});

test("parseCpuList", (t) => {
  t.deepEqual(parseCpuList("0-3,5,7-8\n"), [0, 1, 2, 3, 5, 7, 8]);
  t.deepEqual(parseCpuList("1\n"), [1]);
  t.deepEqual(parseCpuList("\n"), []);
  t.deepEqual(parseCpuList("4,0-1"), [0, 1, 4]);
  t.throws(() => parseCpuList("3-1"));
});

test("quota parsers", (t) => {
  t.is(parseV1Quota("-1", "100000"), null);
  t.deepEqual(parseV1Quota("50000\n", "100000\n"), { quotaUs: 50000, periodUs: 100000 });
  t.is(parseCpuMax("max 100000\n"), null);
  t.deepEqual(parseCpuMax("150000 100000\n"), { quotaUs: 150000, periodUs: 100000 });
});

test("cpu usage parsers", (t) => {
  const all = parseUsageAll("cpu user system\n0 92950126526 28761292917\n1 103941527481 32733056320\n");
  t.deepEqual(all.usage, { userNs: 92950126526 + 103941527481, systemNs: 28761292917 + 32733056320 });
  t.deepEqual(all.perCpu.get(1), { userNs: 103941527481, systemNs: 32733056320 });
  t.deepEqual(parseCpuacctStat("user 20648\nsystem 6448\n"), { userNs: 206480000000, systemNs: 64480000000 });
  t.deepEqual(parseCpuStatV2("usage_usec 30\nuser_usec 10\nsystem_usec 20\nnr_periods 0\n"), { userNs: 10000, systemNs: 20000 });
});

test("io parsers", (t) => {
  const map = new Map<string, IoDeviceNumbers>();
  t.is(foldV1RwStat("Total 0\n", map, "bytes"), 0);
  foldV1RwStat("8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Async 0\n8:0 Discard 5\n8:0 Total 35\nTotal 35\n", map, "bytes");
  foldV1RwStat("8:0 Read 1\n8:0 Write 2\n8:0 Sync 3\n8:0 Async 0\n8:0 Discard 1\n8:0 Total 4\nTotal 4\n", map, "ios");
  t.deepEqual(map.get("8:0"), { major: 8, minor: 0, readBytes: 10, writeBytes: 20, reads: 1, writes: 2, discardBytes: 5, discards: 1 });
  t.deepEqual(parseIoStat("259:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6\n8:0 rbytes=7 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"), [
    { major: 8, minor: 0, readBytes: 7, writeBytes: 0, reads: 1, writes: 0, discardBytes: 0, discards: 0 },
    { major: 259, minor: 0, readBytes: 1, writeBytes: 2, reads: 3, writes: 4, discardBytes: 5, discards: 6 },
  ]);
});

test("controllersOfMountName", (t) => {
  t.deepEqual(controllersOfMountName("cpu,cpuacct"), ["cpu", "cpuacct"]);
  t.deepEqual(controllersOfMountName("net_cls,net_prio"), []);
  t.deepEqual(controllersOfMountName("systemd"), []);
});

test("detectLayout: co-mounted cpu,cpuacct with symlinks, and without", (t) => {
  const root = mkdtempSync(join(tmpdir(), "procview-layout-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ["cpu,cpuacct", "memory", "cpuset", "blkio", "pids", "net_cls,net_prio", "systemd"]) mkdirSync(join(root, d));
  symlinkSync("cpu,cpuacct", join(root, "cpu"));
  symlinkSync("cpu,cpuacct", join(root, "cpuacct"));
  writeFileSync(join(root, "README"), "not a dir");
  const layout = detectLayout(root);
  t.is(layout.mode, "v1");
  t.is(layout.mounts.cpu?.dir, join(root, "cpu,cpuacct"));
  t.is(layout.mounts.cpuacct?.dir, join(root, "cpu,cpuacct"));
  t.is(layout.mounts.memory?.dir, join(root, "memory"));
  t.is(layout.unifiedDir, null);

  const bare = mkdtempSync(join(tmpdir(), "procview-layout-"));
  t.teardown(() => rmSync(bare, { recursive: true, force: true }));
  mkdirSync(join(bare, "cpu,cpuacct"));
  mkdirSync(join(bare, "unified"));
  writeFileSync(join(bare, "unified", "cgroup.controllers"), "memory io\n");
  const hybrid = detectLayout(bare);
  t.is(hybrid.mode, "hybrid");
  t.is(hybrid.mounts.cpuacct?.dir, join(bare, "cpu,cpuacct"));
  // Controllers only cgroup2 offers are taken from it, with v2 semantics.
  t.deepEqual(hybrid.mounts.memory, { dir: join(bare, "unified"), version: 2 });
  t.deepEqual(hybrid.mounts.blkio, { dir: join(bare, "unified"), version: 2 });
  t.is(hybrid.mounts.cpuset, undefined);
});

test("detectLayout: a missing root is an error naming it", (t) => {
  t.throws(() => detectLayout("/nonexistent-cgroup-root"), { message: /nonexistent-cgroup-root/ });
});
