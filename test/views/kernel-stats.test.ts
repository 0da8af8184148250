import test from "ava";
import { renderPressure, renderVmstat, vmstatSource, type VmstatInput } from "../../fuse/views/index.js";
import { GiB, MiB, host } from "./fixtures.js";

test("pressure: the kernel's format, two-digit hundredths, no full line when the kernel gives none", (t) => {
  const line = (a: number, b: number, c: number, total: number) => ({
    avg10Hundredths: a,
    avg60Hundredths: b,
    avg300Hundredths: c,
    totalUs: total,
  });
  t.is(
    renderPressure({ some: line(5, 1234, 10000, 2012480), full: line(0, 0, 0, 3590) }),
    "some avg10=0.05 avg60=12.34 avg300=100.00 total=2012480\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3590\n",
  );
  t.is(renderPressure({ some: line(0, 0, 0, 0), full: null }), "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
});

const HOST = host("vmstat.txt");
const hostValue = (key: string): string => /^(\S+) (\d+)$/m.exec(HOST.split("\n").find((l) => l.startsWith(`${key} `)) ?? "")![2]!;
const pairs = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ") as [string, string]);

function input(overrides: Partial<VmstatInput> = {}): VmstatInput {
  return {
    memoryStat: new Map([
      ["anon", 40 * MiB],
      ["file", 100 * MiB],
      ["kernel_stack", 147456],
      ["pagetables", 569344],
      ["shmem", 4 * MiB],
      ["file_mapped", 12 * MiB],
      ["file_dirty", 64 * 1024],
      ["file_writeback", 8192],
      ["anon_thp", 6 * MiB],
      ["inactive_anon", 10 * MiB],
      ["active_anon", 30 * MiB],
      ["inactive_file", 40 * MiB],
      ["active_file", 60 * MiB],
      ["slab_reclaimable", 6 * MiB],
      ["workingset_refault_file", 77],
      ["pgfault", 123456],
      ["pgmajfault", 12],
      ["pswpin", 3],
      ["pgsteal_proactive", 5],
    ]),
    memory: { limitBytes: 256 * MiB, usageBytes: 150 * MiB },
    hostMemTotalBytes: 24 * GiB,
    oomKills: 2,
    io: { readBytes: 10 * MiB + 1000, writeBytes: 3 * MiB },
    pageBytes: 4096,
    hugePageBytes: 2 * MiB,
    ...overrides,
  };
}

test("vmstat: every host line in order; the container's numbers in the kernel's units; thresholds the host's; the rest 0", (t) => {
  const out = renderVmstat(HOST, input());
  t.deepEqual(
    pairs(out).map(([k]) => k),
    pairs(HOST).map(([k]) => k),
  );
  t.is(out.endsWith("\n"), HOST.endsWith("\n"));
  const v = new Map(pairs(out));
  t.is(v.get("nr_free_pages"), String((106 * MiB) / 4096), "limit − usage, in pages");
  t.is(v.get("nr_anon_pages"), String((40 * MiB) / 4096));
  t.is(v.get("nr_file_pages"), String((100 * MiB) / 4096));
  t.is(v.get("nr_active_file"), String((60 * MiB) / 4096));
  t.is(v.get("nr_zone_active_file"), String((60 * MiB) / 4096), "one zone's worth: all of it");
  t.is(v.get("nr_zone_write_pending"), String((64 * 1024 + 8192) / 4096), "dirty + writeback");
  t.is(v.get("nr_anon_transparent_hugepages"), "3", "in huge pages");
  t.is(v.get("nr_kernel_stack"), "144", "in KiB");
  t.is(v.get("nr_page_table_pages"), String(Math.floor(569344 / 4096)));
  t.is(v.get("nr_slab_unreclaimable"), "0", "not in this memory.stat");
  t.is(v.get("pgpgin"), String(10 * 1024), "KiB read from block devices");
  t.is(v.get("pgpgout"), String(3 * 1024));
  t.is(v.get("pgfault"), "123456");
  t.is(v.get("pgmajfault"), "12");
  t.is(v.get("pswpin"), "3");
  t.is(v.get("pswpout"), "0", "the kernel's memory cgroup does not count it here");
  t.is(v.get("workingset_refault_file"), "77");
  t.is(v.get("pgsteal_proactive"), "5", "an event memory.stat counts under vmstat's own name");
  t.is(v.get("oom_kill"), "2");
  for (const key of ["nr_dirty_threshold", "nr_dirty_background_threshold"]) t.is(v.get(key), hostValue(key), `${key}: the host's`);
  for (const key of ["numa_hit", "pgalloc_normal", "pgfree", "allocstall_normal", "compact_stall", "drop_pagecache", "nr_free_cma"]) {
    t.is(v.get(key), "0", `${key}: zeroed`);
  }
  for (const key of ["numa_hit", "pgalloc_normal", "pgfree", "drop_pagecache"]) t.not(hostValue(key), "0", `${key} is not 0 on the host`);
});

test("vmstat: no limit → the host's memory less the usage; no I/O accounting → no paging; 64 KiB pages", (t) => {
  const v = new Map(
    pairs(
      renderVmstat(
        HOST,
        input({ memory: { limitBytes: null, usageBytes: GiB }, io: null, oomKills: null, pageBytes: 65536, hugePageBytes: 512 * MiB }),
      ),
    ),
  );
  t.is(v.get("nr_free_pages"), String((23 * GiB) / 65536));
  t.is(v.get("nr_anon_pages"), String((40 * MiB) / 65536));
  t.is(v.get("nr_anon_transparent_hugepages"), "0", "6 MiB is no 512 MiB huge page");
  t.is(v.get("pgpgin"), "0");
  t.is(v.get("oom_kill"), "0");
});

test("vmstat: lines of another kernel are handled by name, unknown ones zeroed", (t) => {
  const older =
    "nr_free_pages 100\nnr_unstable 0\npgpgin 5\npgsteal_kswapd 9\nnr_bounce 3\nsome_future_counter 77\nnr_dirty_threshold 42\n";
  t.is(
    renderVmstat(older, input({ memoryStat: new Map([["pgsteal_kswapd", 4]]) })),
    "nr_free_pages 27136\nnr_unstable 0\npgpgin 10240\npgsteal_kswapd 4\nnr_bounce 0\nsome_future_counter 0\nnr_dirty_threshold 42\n",
  );
  const stat = new Map([["pgfault", 1]]);
  t.is(vmstatSource("pgfault", stat), "container");
  t.is(vmstatSource("pgpgin", stat), "container");
  t.is(vmstatSource("nr_dirty_threshold", stat), "host");
  t.is(vmstatSource("numa_hit", stat), "zero");
});
