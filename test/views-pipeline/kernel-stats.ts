// What a container reads in proc/pressure/*, proc/vmstat and proc/slabinfo, worked out from the
// fixture's expected numbers and the host files' text, without calling the views.
import type { ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fixtureRoots, type Expected, type TreeName } from "../fixtures/index.js";
import { pressureText, type PressureResourceName } from "../fixtures/spec.js";
import type { HostText } from "./expect.js";

const PAGE = 4096;

export function checkPressure(t: ExecutionContext, e: Expected, host: HostText, resource: PressureResourceName, text: string): void {
  const own = e.pressure?.[resource];
  if (own === undefined) {
    t.is(text, host.pressure[resource], "no PSI files in the cgroup: the host's file, byte for byte");
    return;
  }
  t.is(text, pressureText(own), `${e.container}'s ${resource}.pressure, in the kernel's format`);
  t.not(text, host.pressure[resource]);
}

/** "name value" lines → [name, value] in order. */
function vmstatPairs(text: string): [string, string][] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [name, value] = l.split(" ");
      return [name!, value!];
    });
}

/** The memory cgroup's memory.stat as the kernel wrote it: v2 keys, or v1's total_* under their own names. */
function fixtureMemoryStat(tree: TreeName, container: string): Map<string, number> {
  const { cgroupRoot } = fixtureRoots(tree);
  const dir = tree === "v1" ? join(cgroupRoot, "memory", container) : join(cgroupRoot, container);
  const out = new Map<string, number>();
  for (const line of readFileSync(join(dir, "memory.stat"), "utf8").split("\n")) {
    const [key, value] = line.split(" ");
    if (key === undefined || value === undefined) continue;
    if (tree === "v2") out.set(key, Number(value));
    else if (key.startsWith("total_")) out.set(key.slice(6), Number(value));
  }
  return out;
}

/** The lines procview takes from the cgroup under another name or unit, worked out here. */
function expectedContainerLines(e: Expected, tree: TreeName, host: HostText): Map<string, number> {
  const s = e.memory.stat;
  const p = (bytes: number) => Math.floor(bytes / PAGE);
  const hostTotal = Number(/^MemTotal:\s+(\d+) kB$/m.exec(host.meminfo)![1]) * 1024;
  const total = e.memory.limitBytes === null ? hostTotal : Math.min(hostTotal, e.memory.limitBytes);
  const v2 = tree === "v2";
  const ev = e.memoryEvents;
  const read = e.io.reduce((sum, d) => sum + d.readBytes, 0);
  const written = e.io.reduce((sum, d) => sum + d.writeBytes, 0);
  return new Map([
    ["nr_free_pages", p(Math.max(0, total - e.memory.usageBytes))],
    ["nr_zone_inactive_anon", p(s.inactiveAnonBytes)],
    ["nr_zone_active_anon", p(s.activeAnonBytes)],
    ["nr_zone_inactive_file", p(s.inactiveFileBytes)],
    ["nr_zone_active_file", p(s.activeFileBytes)],
    ["nr_zone_unevictable", p(s.unevictableBytes)],
    ["nr_zone_write_pending", p(s.dirtyBytes + s.writebackBytes)],
    ["nr_inactive_anon", p(s.inactiveAnonBytes)],
    ["nr_active_anon", p(s.activeAnonBytes)],
    ["nr_inactive_file", p(s.inactiveFileBytes)],
    ["nr_active_file", p(s.activeFileBytes)],
    ["nr_unevictable", p(s.unevictableBytes)],
    // v1's memory.stat has no slab lines.
    ["nr_slab_reclaimable", p(s.slabReclaimableBytes)],
    ["nr_slab_unreclaimable", p(s.slabUnreclaimableBytes)],
    ["nr_anon_pages", p(s.anonBytes)],
    ["nr_mapped", p(s.mappedBytes)],
    ["nr_file_pages", p(s.fileBytes)],
    ["nr_dirty", p(s.dirtyBytes)],
    ["nr_writeback", p(s.writebackBytes)],
    ["nr_shmem", p(s.shmemBytes)],
    ["nr_swapcached", p(s.swapCachedBytes)],
    // Huge pages in units of 2 MiB pages; v1 has only rss_huge (anon).
    ["nr_anon_transparent_hugepages", Math.floor((s.anonHugePagesBytes ?? 0) / (2 * 1024 * 1024))],
    ["nr_shmem_hugepages", Math.floor((s.shmemHugePagesBytes ?? 0) / (2 * 1024 * 1024))],
    ["nr_file_hugepages", Math.floor((s.fileHugePagesBytes ?? 0) / (2 * 1024 * 1024))],
    // kernel_stack in KiB, pagetables in pages; v1 has neither.
    ["nr_kernel_stack", Math.floor((s.kernelStackBytes ?? 0) / 1024)],
    ["nr_page_table_pages", Math.floor((s.pageTablesBytes ?? 0) / PAGE)],
    ["pgfault", ev.pgfault],
    ["pgmajfault", ev.pgmajfault],
    ["workingset_refault_file", ev.workingsetRefaultFile],
    // Recent kernels count swap-ins per cgroup, in cgroup2's memory.stat only.
    ["pswpin", v2 ? ev.pswpin : 0],
    ["pswpout", v2 ? ev.pswpout : 0],
    // Paging is block I/O in KiB, not v1's pgpgin (pages charged).
    ["pgpgin", Math.floor(read / 1024)],
    ["pgpgout", Math.floor(written / 1024)],
    ["oom_kill", ev.oomKill],
  ]);
}

export function checkVmstat(t: ExecutionContext, e: Expected, tree: TreeName, host: HostText, text: string): void {
  const got = vmstatPairs(text);
  const hostPairs = vmstatPairs(host.vmstat);
  t.deepEqual(
    got.map(([k]) => k),
    hostPairs.map(([k]) => k),
    "every line of the host's file, in its order",
  );
  t.is(text.endsWith("\n"), host.vmstat.endsWith("\n"));
  t.true(
    got.every(([, v]) => /^\d+$/.test(v)),
    "every value a decimal count",
  );
  const want = expectedContainerLines(e, tree, host);
  const sameName = fixtureMemoryStat(tree, e.memoryCgroup);
  const hostValue = new Map(hostPairs);
  for (const [key, value] of got) {
    const expected = want.get(key);
    if (expected !== undefined) t.is(Number(value), expected, key);
    else if (key === "nr_dirty_threshold" || key === "nr_dirty_background_threshold")
      t.is(value, hostValue.get(key) ?? "(none)", `${key} is the host's`);
    else if (sameName.has(key) && key !== "pgpgin" && key !== "pgpgout")
      t.is(Number(value), sameName.get(key) ?? NaN, `${key}: memory.stat's`);
    else t.is(value, "0", `${key}: machine-wide, zeroed`);
  }
  // The host's figures really differ, so the checks above tell the container's from the host's.
  t.not(hostValue.get("pgfault"), String(want.get("pgfault")));
  t.not(hostValue.get("numa_hit"), "0");
}

export function checkSlabinfo(t: ExecutionContext, e: Expected, host: HostText, text: string): void {
  if (e.kmemSlabinfo !== null) {
    t.is(text, e.kmemSlabinfo, "the cgroup's own memory.kmem.slabinfo");
    t.true(text.startsWith(host.slabinfo.split("\n").slice(0, 2).join("\n")), "the kernel's header, as /proc/slabinfo's");
  } else {
    t.is(text, host.slabinfo, "no slab caches of its own: the host's file, byte for byte");
  }
}
