import test from "ava";
import type { IoDeviceNumbers } from "../../fuse/cgroup/types.js";
import { renderDiskstats } from "../../fuse/views/index.js";
import { host } from "./fixtures.js";

const hostText = host("diskstats.txt");

const vda: IoDeviceNumbers = {
  major: 254,
  minor: 0,
  reads: 100,
  readBytes: 1024 * 1024,
  writes: 50,
  writeBytes: 2 * 1024 * 1024,
  discards: 3,
  discardBytes: 4096,
};

/** The device names of a diskstats text, in order. */
const names = (text: string): string[] =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(/ +/).filter(Boolean)[2]!);

test("every host device, in the host's column format: the cgroup's counters, zeros for the rest", (t) => {
  const out = renderDiskstats(hostText, [vda]);
  t.deepEqual(names(out), names(hostText));
  t.true(out.includes(" 254       0 vda 100 0 2048 0 50 0 4096 0 0 0 0 3 0 8 0 0 0\n"));
  t.true(out.startsWith("   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"));
  t.true(out.endsWith(" 253       0 zram0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"));
});

test("the host's prefix and field count are kept", (t) => {
  const hostVda = hostText.split("\n").find((l) => l.includes(" vda "))!;
  const outVda = renderDiskstats(hostText, [vda])
    .split("\n")
    .find((l) => l.includes(" vda "))!;
  t.is(outVda.slice(0, outVda.indexOf("vda") + 3), hostVda.slice(0, hostVda.indexOf("vda") + 3));
  t.is(outVda.split(" ").filter(Boolean).length, hostVda.split(" ").filter(Boolean).length);
});

test("host order, whatever the order of the cgroup's numbers", (t) => {
  const loop1 = { ...vda, major: 7, minor: 1, reads: 1, readBytes: 512, writes: 0, writeBytes: 0, discards: 0, discardBytes: 0 };
  const out = renderDiskstats(hostText, [vda, loop1]);
  t.deepEqual(names(out), names(hostText));
  t.true(out.includes("   7       1 loop1 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"));
});

test("a cgroup without I/O (or with numbers only for devices the host does not list) sees every device at zero", (t) => {
  const zeros = hostText
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/^(\s*\d+\s+\d+\s+\S+).*$/, (_, head: string) => `${head}${" 0".repeat(17)}`))
    .join("\n");
  t.is(renderDiskstats(hostText, []), zeros + "\n");
  t.is(renderDiskstats(hostText, [{ ...vda, major: 8, minor: 0 }]), zeros + "\n");
});

test("an older kernel's 11 fields stay 11", (t) => {
  const old = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n   8       1 sda1 1 2 3 4 5 6 7 8 9 10 11\n";
  t.is(
    renderDiskstats(old, [{ ...vda, major: 8, minor: 0 }]),
    "   8       0 sda 100 0 2048 0 50 0 4096 0 0 0 0\n   8       1 sda1 0 0 0 0 0 0 0 0 0 0 0\n",
  );
});
