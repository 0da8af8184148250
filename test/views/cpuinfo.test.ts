import test from "ava";
import { renderCpuinfo } from "../../fuse/views/index.js";
import { host } from "./fixtures.js";

const x86 = host("cpuinfo.txt");
const x86four = host("cpuinfo-4cpu.txt");
const arm64 = host("cpuinfo-arm64.txt");

/** The blocks of a cpuinfo text, each as its lines, blank separators dropped. */
const blocks = (text: string): string[][] =>
  text
    .split("\n\n")
    .filter((b) => b.trim() !== "")
    .map((b) => b.replace(/^\n+|\n+$/g, "").split("\n"));

test("all CPUs visible: the host's text unchanged", (t) => {
  t.is(renderCpuinfo(x86, [0, 1]), x86);
  t.is(renderCpuinfo(x86four, [0, 1, 2, 3]), x86four);
  t.is(renderCpuinfo(arm64, [0, 1, 2, 3]), arm64);
});

test("cpuset 1: host CPU 1's block as processor 0, siblings and cores cut to 1", (t) => {
  const out = renderCpuinfo(x86, [1]);
  const [block, ...rest] = blocks(out);
  t.is(rest.length, 0);
  const hostBlock = blocks(x86)[1]!;
  t.is(block!.length, hostBlock.length);
  for (let i = 0; i < hostBlock.length; i++) {
    if (hostBlock[i]!.startsWith("processor")) t.is(block![i], "processor\t: 0");
    else if (hostBlock[i]!.startsWith("siblings")) t.is(block![i], "siblings\t: 1");
    else if (hostBlock[i]!.startsWith("cpu cores")) t.is(block![i], "cpu cores\t: 1");
    else t.is(block![i], hostBlock[i]);
  }
  t.true(out.endsWith("power management:\n\n"));
  t.false(out.endsWith("\n\n\n"));
});

test("cpuset 0: the first block only, with the kernel's trailing blank line", (t) => {
  const out = renderCpuinfo(x86, [0]);
  t.is(blocks(out).length, 1);
  t.true(out.startsWith("processor\t: 0\n"));
  t.true(out.endsWith("power management:\n\n"));
  t.regex(out, /\ncore id\t\t: 0\n/);
});

test("4 host CPUs, 2 visible: renumbered, topology ids kept, counts cut", (t) => {
  const out = renderCpuinfo(x86four, [1, 3]);
  const b = blocks(out);
  t.is(b.length, 2);
  t.is(b[0]![0], "processor\t: 0");
  t.is(b[1]![0], "processor\t: 1");
  t.true(b[0]!.includes("core id\t\t: 1"));
  t.true(b[1]!.includes("core id\t\t: 3"));
  t.true(b[1]!.includes("apicid\t\t: 3"));
  for (const block of b) {
    t.true(block.includes("siblings\t: 2"));
    t.true(block.includes("cpu cores\t: 2"));
  }
  t.is(out.split("\n\n").length, 3); // two blocks, then the final ""
});

test("siblings and cores are never raised above the host's", (t) => {
  const out = renderCpuinfo(x86four.replaceAll("siblings\t: 4", "siblings\t: 1"), [0, 1, 2]);
  for (const block of blocks(out)) {
    t.true(block.includes("siblings\t: 1"));
    t.true(block.includes("cpu cores\t: 3"));
  }
});

test("arm64: blocks kept and renumbered", (t) => {
  const out = renderCpuinfo(arm64, [2]);
  const hostBlock = blocks(arm64)[2]!;
  t.is(out, ["processor\t: 0", ...hostBlock.slice(1)].join("\n") + "\n\n");
});

test("blocks without a processor line pass through: ppc64's trailing machine block", (t) => {
  const ppc =
    "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nrevision\t: 2.2 (pvr 004e 1202)\n\n" +
    "processor\t: 1\ncpu\t\t: POWER9 (architected), altivec supported\nrevision\t: 2.2 (pvr 004e 1202)\n\n" +
    "timebase\t: 512000000\nplatform\t: pSeries\nmodel\t\t: IBM pSeries (emulated by qemu)\nMMU\t\t: Radix\n";
  t.is(
    renderCpuinfo(ppc, [1]),
    "processor\t: 0\ncpu\t\t: POWER9 (architected), altivec supported\nrevision\t: 2.2 (pvr 004e 1202)\n\n" +
      "timebase\t: 512000000\nplatform\t: pSeries\nmodel\t\t: IBM pSeries (emulated by qemu)\nMMU\t\t: Radix\n",
  );
});

test("s390x: the header block, whose 'processor N:' lines are not CPU blocks, passes through", (t) => {
  const s390 =
    "vendor_id       : IBM/S390\n# processors    : 2\nprocessor 0: version = FF,  identification = 0133E8,  machine = 2964\n" +
    "processor 1: version = FF,  identification = 0133E8,  machine = 2964\n\ncpu number      : 0\ncpu MHz dynamic : 5000\n\n" +
    "cpu number      : 1\ncpu MHz dynamic : 5000\n";
  t.is(renderCpuinfo(s390, [0]), s390);
});
