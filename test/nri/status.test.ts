// The NRI plugins' status records (nri/status.ts) and `procview nri-status`, the readiness probe
// of the DaemonSet's nri container: a record is its plugin's while the plugin lives (a lock the
// kernel drops however it ends), a dead plugin's record reads as gone and the next plugin to
// start removes it, and --this-container is ready only on a registered plugin of this container.
import test from "ava";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { describeRecord, isReady, ownMountNamespace, PluginStatusFile, readPluginRecords } from "../../nri/status.js";
import { CLI_ENTRY, DIST_DIR, nriStatusDir } from "../../core/paths.js";

const runtimeDir = (): string => mkdtempSync(path.join(tmpdir(), "procview-nri-status-"));
const what = { name: "10-procview", socket: "/var/run/nri/nri.sock", source: "/var/lib/procview" };

/** A plugin's record held by another process: prints "held" once registered, then waits to be killed. */
function otherPlugin(dir: string) {
  const child = execa(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const { PluginStatusFile } = await import(${JSON.stringify(path.join(DIST_DIR, "nri", "status.js"))});
       const record = PluginStatusFile.create(${JSON.stringify(dir)}, ${JSON.stringify(what)}, (l) => console.error(l));
       record.update("registered", "containerd 2.1.9");
       console.log("held");
       setInterval(() => {}, 60_000);`,
    ],
    { reject: false, buffer: false },
  );
  const held = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => b.toString().includes("held") && resolve());
    void child.then((r) => reject(new Error(`the other plugin exited: ${String(r.stderr)}`)));
  });
  return { child, held };
}

const nriStatus = (dir: string, ...flags: string[]) =>
  execa(process.execPath, [CLI_ENTRY, "nri-status", "--runtime-dir", dir, ...flags], { reject: false });

test("a plugin's record: connecting, then registered with its runtime, replaced whole; gone when the plugin stops; root's modes", (t) => {
  const dir = runtimeDir();
  const lines: string[] = [];
  const record = PluginStatusFile.create(dir, what, (l) => lines.push(l));
  if (!record) return t.fail(lines.join("\n"));
  t.is(statSync(nriStatusDir(dir)).mode & 0o777, 0o755);
  let [r] = readPluginRecords(dir);
  t.is(r?.status.state, "connecting");
  t.true(r?.alive);
  t.false(isReady(r!));
  record.update("registered", "containerd 2.1.9");
  [r] = readPluginRecords(dir);
  t.like(r?.status, { state: "registered", runtime: "containerd 2.1.9", pid: process.pid, mountNamespace: ownMountNamespace() });
  t.true(isReady(r!));
  t.true(isReady(r!, ownMountNamespace()));
  t.regex(
    describeRecord(r!, ownMountNamespace()),
    /^10-procview pid \d+, this container: registered with containerd 2\.1\.9 for 0 s; socket \/var\/run\/nri\/nri\.sock/,
  );
  const files = readdirSync(nriStatusDir(dir)).sort();
  t.deepEqual(
    files.map((f) => f.replace(/^\d+-[0-9a-f]+/, "ID")),
    ["ID.json", "ID.lock"],
    "no temporary file left",
  );
  for (const f of files) t.is(statSync(path.join(nriStatusDir(dir), f)).mode & 0o777, 0o644, f);
  record.update("stopping");
  t.false(isReady(readPluginRecords(dir)[0]!), "not ready once told to stop");
  record.remove();
  t.deepEqual(readdirSync(nriStatusDir(dir)), []);
  t.deepEqual(lines, []);
});

test("a killed plugin's record reads as gone, and the next plugin to start removes it", async (t) => {
  const dir = runtimeDir();
  const other = otherPlugin(dir);
  await other.held;
  const [alive] = readPluginRecords(dir);
  t.true(alive?.alive);
  t.true(isReady(alive!), "registered, in another process");
  other.child.kill("SIGKILL");
  await other.child;
  const [dead] = readPluginRecords(dir);
  t.false(dead?.alive);
  t.false(isReady(dead!));
  t.regex(describeRecord(dead!, ownMountNamespace()), /: gone \(was registered\)/);
  const lines: string[] = [];
  const record = PluginStatusFile.create(dir, what, (l) => lines.push(l));
  t.deepEqual(lines, [`removed 1 status record of procview NRI plugins that are gone, from ${nriStatusDir(dir)}`]);
  t.deepEqual(
    readPluginRecords(dir).map((r) => r.status.pid),
    [process.pid],
  );
  record?.remove();
});

test("procview nri-status --this-container: ready only once a plugin of this container is registered, whatever other plugins run", async (t) => {
  const dir = runtimeDir();
  t.is((await nriStatus(dir, "--this-container")).exitCode, 1, "no plugin at all");
  // A registered plugin in another process of this mount namespace stands for this container's;
  // one in another container is told by its mount namespace (below, by hand).
  const other = otherPlugin(dir);
  await other.held;
  const ready = await nriStatus(dir, "--this-container");
  t.is(ready.exitCode, 0, ready.stdout);
  t.regex(ready.stdout, /^10-procview pid \d+, this container: registered with containerd 2\.1\.9/m);
  other.child.kill("SIGKILL");
  await other.child;
  const gone = await nriStatus(dir, "--this-container");
  t.is(gone.exitCode, 1);
  t.regex(gone.stdout, /gone \(was registered\)[^]*not ready: no plugin of this container is registered/);
  // Registered, but in another container: the node has a plugin, this container has none.
  const record = PluginStatusFile.create(dir, what, () => undefined)!;
  record.update("registered", "containerd 2.1.9");
  const [mine] = readPluginRecords(dir).filter((r) => r.alive);
  t.true(isReady(mine!, ownMountNamespace()));
  t.false(isReady(mine!, "mnt:[1]"), "a plugin of another mount namespace is not this container's");
  t.true(isReady(mine!), "without --this-container, any registered plugin will do");
  t.is((await nriStatus(dir)).exitCode, 0);
  record.remove();
  t.is((await nriStatus(dir)).exitCode, 1);
});
