// One procview NRI plugin per runtime: the second waits on the lock until the first is gone,
// however it goes (here, SIGKILL), and a plugin told to stop while it waits stops waiting.
import test from "ava";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { holdPluginLock } from "../../nri/lock.js";
import { DIST_DIR, nriLockPath } from "../../core/paths.js";

/** Another process holding the lock: prints "held" once it has it, then waits to be killed. */
function holder(file: string) {
  const lockModule = path.join(DIST_DIR, "nri", "lock.js");
  const child = execa(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { holdPluginLock } = await import(${JSON.stringify(lockModule)});
       await holdPluginLock(${JSON.stringify(file)}, new AbortController().signal, () => {});
       console.log("held");
       setInterval(() => {}, 60_000);`,
    ],
    { reject: false, buffer: false },
  );
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => b.toString().includes("held") && resolve());
    void child.then((r) => reject(new Error(`the holder exited: ${String(r.stderr)}`)));
  });
  return { child, held };
}

test("the lock is named after the runtime's socket, in the runtime directory", (t) => {
  t.is(nriLockPath("/var/run/nri/nri.sock"), "/run/procview/nri/var-run-nri-nri.sock.lock");
  t.is(nriLockPath("/run/containerd/nri.sock", "/tmp/x"), "/tmp/x/nri/run-containerd-nri.sock.lock");
});

test("a second plugin waits until the first one is gone, even killed; the lock file is its owner's alone (0600 in a 0700 directory)", async (t) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "procview-lock-")), "nri", "test.lock");
  const first = holder(file);
  await first.held;
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(statSync(path.dirname(file)).mode & 0o777, 0o700);
  const lines: string[] = [];
  let took = false;
  const second = holdPluginLock(file, new AbortController().signal, (l) => lines.push(l)).then((held) => (took = held));
  // It says it waits once its first try has failed.
  while (!lines.some((l) => /holds .*test\.lock .*: waiting for it to stop/.test(l))) await new Promise((r) => setTimeout(r, 10));
  t.false(took, "not while the first one lives");
  first.child.kill("SIGKILL");
  await first.child;
  await second;
  t.true(took);
  t.regex(lines.join("\n"), /took .*test\.lock after \d+ ms: the other plugin has stopped/);
});

test("a plugin told to stop while it waits returns without the lock", async (t) => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "procview-lock-")), "nri", "test.lock");
  const first = holder(file);
  await first.held;
  const stop = new AbortController();
  const waiting = holdPluginLock(file, stop.signal, () => undefined);
  stop.abort();
  t.false(await waiting);
  first.child.kill("SIGKILL");
  await first.child;
});
