import test from "ava";
import type { MemoryNumbers } from "../../fuse/cgroup/types.js";
import { renderMeminfo, renderSwaps } from "../../fuse/views/index.js";
import { GiB, MiB, host, kb, mem } from "./fixtures.js";

const HEADER = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
const hostSwapsOff = host("swaps.txt");
const hostSwapsOn = host("swaps-swap.txt");
const meminfoOff = host("meminfo.txt");
const meminfoOn = host("meminfo-swap.txt");
const HOST_SWAP_BYTES = 2097148 * 1024;
const HOST_SWAP_FREE_BYTES = 1835004 * 1024;

/** Size and Used of the single row, in KiB. */
const row = (text: string): { size: number; used: number } => {
  const cols = text.split("\n")[1]!.split(/\s+/);
  return { size: Number(cols[2]), used: Number(cols[3]) };
};

test("the header is the host's, byte for byte", (t) => {
  t.true(hostSwapsOn.startsWith(HEADER));
  t.is(renderSwaps(hostSwapsOff, mem(), 0), hostSwapsOff);
  t.is(renderSwaps(hostSwapsOff, mem(), 0), HEADER);
});

test("one virtual row in the kernel's columns", (t) => {
  const m = mem({ limitBytes: 256 * MiB, swap: { limitBytes: 512 * MiB, usageBytes: 100 * MiB } });
  t.is(
    renderSwaps(hostSwapsOn, m, HOST_SWAP_BYTES, HOST_SWAP_FREE_BYTES),
    HEADER + "none" + " ".repeat(36) + "virtual\t\t524288\t\t102400\t\t0\n",
  );
  // "none" padded to 40 columns like the kernel's path column, as long as the host's own rows
  t.is(hostSwapsOn.split("\n")[1]!.indexOf("partition"), 40);
});

test("numbers of 8 digits drop the extra tab, as swap_show does", (t) => {
  const hugeHost = 64 * 1024 * GiB;
  const m = mem({ swap: { limitBytes: 20 * GiB, usageBytes: 10 * GiB } });
  t.is(renderSwaps(hostSwapsOn, m, hugeHost, hugeHost).split("\n")[1], "none" + " ".repeat(36) + "virtual\t\t20971520\t10485760\t0");
});

test("host without swap: only the header", (t) => {
  for (const swap of [null, { limitBytes: GiB, usageBytes: 0 }]) {
    t.is(renderSwaps(hostSwapsOff, mem({ swap }), 0), HEADER);
  }
});

test("same SwapTotal and SwapFree as meminfo, whichever rule applies", (t) => {
  const cases: MemoryNumbers[] = [
    mem(),
    mem({ limitBytes: 256 * MiB }),
    mem({ limitBytes: 256 * MiB, swap: { limitBytes: 512 * MiB, usageBytes: 100 * MiB } }),
    mem({ limitBytes: 256 * MiB, swap: { limitBytes: null, usageBytes: 3 * MiB } }),
    mem({ swap: { limitBytes: 64 * GiB, usageBytes: 3 * GiB } }),
  ];
  for (const m of cases) {
    const meminfo = renderMeminfo(meminfoOn, m);
    const total = kb(meminfo, "SwapTotal");
    const free = kb(meminfo, "SwapFree");
    // with meminfo's SwapFree passed, and with it derived from the host's rows
    for (const swaps of [
      renderSwaps(hostSwapsOn, m, HOST_SWAP_BYTES, HOST_SWAP_FREE_BYTES),
      renderSwaps(hostSwapsOn, m, HOST_SWAP_BYTES),
    ]) {
      if (total === 0) t.is(swaps, HEADER);
      else t.deepEqual(row(swaps), { size: total, used: total - free });
    }
  }
  t.is(kb(renderMeminfo(meminfoOff, mem()), "SwapTotal"), 0);
});
