// procview-nsmount, the native helper, against real mount namespaces: bind is all or nothing,
// replace swaps a mount for another, and nothing is left behind by a failure.
import test from "ava";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { fakeContainer, ORIGINAL } from "../support/fake-container.js";
import { NSMOUNT_HELPER } from "../../core/paths.js";

const HELPER = NSMOUNT_HELPER;

/** Host-side source files with known text. */
function sources(texts: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "procview-nsmount-src-"));
  return texts.map((text, i) => {
    const file = join(dir, `source-${i}`);
    writeFileSync(file, text);
    return file;
  });
}

test("bind attaches every source in the other namespace, and only there", async (t) => {
  const c = await fakeContainer();
  try {
    const [a, b] = sources(["view A\n", "view B\n"]);
    const r = await execa(HELPER, ["bind", String(c.pid), a!, join(c.rootfs, "proc/meminfo"), b!, join(c.rootfs, "proc/cpuinfo")], {
      reject: false,
    });
    t.is(r.exitCode, 0, r.stdout + r.stderr);
    t.is(await c.read("/proc/meminfo"), "view A");
    t.is(await c.read("/proc/cpuinfo"), "view B");
    t.deepEqual((await c.mountsUnderRootfs()).sort(), [join(c.rootfs, "proc/cpuinfo"), join(c.rootfs, "proc/meminfo")]);
  } finally {
    await c.stop();
  }
});

test("bind is all or nothing: a failing target undoes the binds made before it", async (t) => {
  const c = await fakeContainer();
  try {
    const [a, b, d] = sources(["A\n", "B\n", "C\n"]);
    const r = await execa(
      HELPER,
      ["bind", String(c.pid), a!, join(c.rootfs, "proc/meminfo"), b!, join(c.rootfs, "proc/cpuinfo"), d!, join(c.rootfs, "no/such/target")],
      { reject: false },
    );
    t.is(r.exitCode, 1);
    t.regex(r.stdout, /^error .*no\/such\/target: attaching: No such file or directory$/m);
    t.regex(r.stdout, /^undone .*proc\/cpuinfo$/m);
    t.regex(r.stdout, /^undone .*proc\/meminfo$/m);
    t.deepEqual(await c.mountsUnderRootfs(), []);
    t.is(await c.read("/proc/meminfo"), ORIGINAL.trim());
  } finally {
    await c.stop();
  }
});

test("replace swaps what is mounted on a target for the new source", async (t) => {
  const c = await fakeContainer();
  try {
    const [old, fresh] = sources(["old view\n", "new view\n"]);
    const target = join(c.rootfs, "proc/uptime");
    t.is((await execa(HELPER, ["bind", String(c.pid), old!, target])).exitCode, 0);
    t.is(await c.read("/proc/uptime"), "old view");
    const r = await execa(HELPER, ["replace", String(c.pid), fresh!, target], { reject: false });
    t.is(r.exitCode, 0, r.stdout);
    t.is(await c.read("/proc/uptime"), "new view");
    t.deepEqual(await c.mountsUnderRootfs(), [target], "one mount, not two stacked");
  } finally {
    await c.stop();
  }
});

test("bad arguments and a dead pid are refused with exit 2 and nothing mounted", async (t) => {
  t.is((await execa(HELPER, ["bind"], { reject: false })).exitCode, 2);
  t.is((await execa(HELPER, ["frobnicate", "1", "/a", "/b"], { reject: false })).exitCode, 2);
  const dead = await execa(HELPER, ["bind", "999999999", "/etc/hostname", "/tmp/x"], { reject: false });
  t.is(dead.exitCode, 2);
  t.regex(dead.stderr, /\/proc\/999999999\/ns\/mnt: No such file or directory/);
});
