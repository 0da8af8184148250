// The keeper's files and its control socket: explicit modes whatever the umask, only root
// reaches the socket, and `procview reload` cannot be steered by a forged status file.
import test from "ava";
import { chmodSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { startFuseServer } from "../../testbed/fuse-server.js";
import { PROCVIEW_CLI } from "../../testbed/procview.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { keeperStatus } from "../../fuse/keeper/control.js";
import { waitFor } from "../../testbed/wait.js";
import { keeperSocketPath, statusPath } from "../../core/paths.js";

/** procview serve under umask 000, with a runtime directory of its own. */
async function serveUnderLooseUmask(runtimeDir: string) {
  return startFuseServer({
    name: "procview-umask",
    command: (mountPoint) => [
      "/bin/sh",
      [
        "-c",
        'umask 000 && exec "$@"',
        "sh",
        process.execPath,
        PROCVIEW_CLI,
        "serve",
        "--foreground",
        "--mountpoint",
        mountPoint,
        "--runtime-dir",
        runtimeDir,
      ],
    ],
    timeoutMs: 15_000,
  });
}

const mode = (path: string): number => statSync(path).mode & 0o777;

/** Node, as an unprivileged user, asking the socket for the status. */
const askAsNobody = (socket: string) =>
  execa(
    "setpriv",
    [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      process.execPath,
      "-e",
      `const s = require("node:net").createConnection(process.argv[1]);
       let got = "", connected = false, said = false;
       const say = (what) => { if (!said) console.log(what); said = true; };
       s.on("connect", () => { connected = true; s.write("status\\n"); });
       s.on("data", (d) => (got += d));
       s.on("error", (e) => say(connected ? "closed without an answer" : "error " + e.code));
       s.on("close", () => say(got ? "answered" : "closed without an answer"));`,
      socket,
    ],
    { reject: false, timeout: 10_000 },
  );

test.serial("under umask 000 the status file is 0644 and the control socket 0600; nobody but root gets an answer", async (t) => {
  const runtimeDir = mkdtempSync(join(tmpdir(), "procview-rt-"));
  chmodSync(runtimeDir, 0o755);
  const service = await serveUnderLooseUmask(runtimeDir);
  try {
    const statusFile = statusPath(service.mountPoint, runtimeDir);
    const socket = keeperSocketPath(service.mountPoint, runtimeDir);
    t.is(mode(statusFile).toString(8), "644");
    t.is(mode(socket).toString(8), "600");
    t.is(readStatus(statusFile)?.keeperPid, service.pid);

    t.is((await askAsNobody(socket)).stdout.trim(), "error EACCES", "the socket's mode keeps others out");
    // Even let in by a mode changed behind the keeper's back, the peer check refuses them.
    chmodSync(socket, 0o666);
    t.is((await askAsNobody(socket)).stdout.trim(), "closed without an answer");
    const asRoot = await execa(
      process.execPath,
      [PROCVIEW_CLI, "status", "--mountpoint", service.mountPoint, "--runtime-dir", runtimeDir],
      {
        reject: false,
      },
    );
    t.is(asRoot.exitCode, 0, asRoot.stdout);
  } finally {
    await service.stop();
  }
});

test.serial("procview reload goes to the keeper on its socket, whatever a forged status file says", async (t) => {
  const runtimeDir = mkdtempSync(join(tmpdir(), "procview-rt-"));
  const service = await serveUnderLooseUmask(runtimeDir);
  // A process that SIGHUP would kill, named as the keeper in a status file written by someone else.
  const victim = execa("sleep", ["60"], { reject: false });
  try {
    const statusFile = statusPath(service.mountPoint, runtimeDir);
    const forged = { ...readStatus(statusFile)!, keeperPid: victim.pid!, servingPid: victim.pid! };
    writeFileSync(statusFile, JSON.stringify(forged));
    const reload = await execa(process.execPath, [PROCVIEW_CLI, "reload", "--mountpoint", service.mountPoint, "--runtime-dir", runtimeDir]);
    t.regex(reload.stdout, /^reloaded: serving process \d+ → \d+$/);
    t.is(victim.exitCode, null, "the process named in the file got no signal");
    t.notThrows(() => process.kill(victim.pid!, 0));
  } finally {
    victim.kill("SIGKILL");
    await service.stop();
  }
});

test.serial("a reload whose new serving process dies before serving fails with the reason; the old one serves on", async (t) => {
  const runtimeDir = mkdtempSync(join(tmpdir(), "procview-rt-"));
  const service = await serveUnderLooseUmask(runtimeDir);
  try {
    // Once a serving process serves (the mount answers before the first one says it serves).
    const before = await waitFor("a serving process", async () => {
      const now = await keeperStatus(service.mountPoint, runtimeDir);
      return now.servingPid !== null ? now : null;
    });
    const reload = execa(process.execPath, [PROCVIEW_CLI, "reload", "--mountpoint", service.mountPoint, "--runtime-dir", runtimeDir], {
      reject: false,
    });
    // The reload's process is the one starting now (the old standby is gone: it runs old code).
    const starting = await waitFor("the reload's serving process", async () => {
      const now = await keeperStatus(service.mountPoint, runtimeDir);
      return now.standbyPid !== null && now.standbyPid !== before.standbyPid && !now.standbyReady ? now.standbyPid : null;
    });
    process.kill(starting, "SIGKILL");
    const r = await reload;
    t.is(r.exitCode, 1);
    t.regex(r.stderr, /^procview: the keeper did not reload: the new serving process died before serving/m);
    const after = await keeperStatus(service.mountPoint, runtimeDir);
    t.is(after.servingPid, before.servingPid, "the old one serves on");
    t.is(after.reloads, 0);
    t.is(after.restarts, 0);
  } finally {
    await service.stop();
  }
});
