// procview-nsmount, the native helper, against real mount namespaces: bind is all or nothing,
// replace swaps a mount for another, and nothing is left behind by a failure.
import test from "ava";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { fakeContainer, ORIGINAL } from "../support/fake-container.js";
import { NSMOUNT_HELPER } from "../../core/paths.js";
import { waitFor } from "../../testbed/wait.js";

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

test("replace PID:MNTNS enters that namespace only, and replaces dead views only: a live mount or a reused pid is left alone", async (t) => {
  const c = await fakeContainer();
  try {
    const [old, fresh] = sources(["old view\n", "new view\n"]);
    const target = join(c.rootfs, "proc/uptime");
    t.is((await execa(HELPER, ["bind", String(c.pid), old!, target])).exitCode, 0);
    const ns = statSync(`/proc/${c.pid}/ns/mnt`).ino;
    // The pid as if reused by a process of another namespace.
    const elsewhere = await execa(HELPER, ["replace", `${c.pid}:${ns + 1}`, fresh!, target], { reject: false });
    t.is(elsewhere.exitCode, 2);
    t.regex(elsewhere.stderr, /is not mount namespace \d+ any more/);
    // The namespace discovery saw, but the view there is alive (not the dead one it found).
    const live = await execa(HELPER, ["replace", `${c.pid}:${ns}`, fresh!, target], { reject: false });
    t.is(live.exitCode, 1);
    t.regex(live.stdout, /^error .*proc\/uptime: not a dead view \(left as it is\)$/m);
    t.is(await c.read("/proc/uptime"), "old view");
    t.deepEqual(await c.mountsUnderRootfs(), [target]);
    t.is((await execa(HELPER, ["replace", `${c.pid}:x`, fresh!, target], { reject: false })).exitCode, 2);
  } finally {
    await c.stop();
  }
});

test("replace PID:MNTNS never enters a namespace that belongs to a user namespace not root's (a rootless container)", async (t) => {
  const sleeper = execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", "unshare", "-U", "-m", "--", "sleep", "60"], {
    reject: false,
  });
  try {
    const ns = await waitFor("the unprivileged namespace", () => {
      try {
        const own = statSync(`/proc/${sleeper.pid}/ns/mnt`).ino;
        return own !== statSync("/proc/self/ns/mnt").ino && own;
      } catch {
        return false;
      }
    });
    const r = await execa(HELPER, ["replace", `${sleeper.pid}:${ns}`, "/etc/hostname", "/etc/hostname"], { reject: false });
    t.is(r.exitCode, 2, r.stdout);
    t.regex(r.stderr, /belongs to a user namespace of uid 65534: not entered/);
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper;
  }
});
