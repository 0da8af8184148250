// The hook socket as an unprivileged or hostile client finds it: unreachable whatever the umask
// the service runs under, even while serving processes come and go; a client that does reach
// it (a socket made reachable by hand) gets no answer unless it is root; idle, half-sent and
// oversized requests are dropped with the service's memory bounded; arguments beyond what a
// hooks.d entry says are refused, and no answer quotes a file.
import test, { type ExecutionContext } from "ava";
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path, { join } from "node:path";
import { execa } from "execa";
import { startFuseServer, type RunningServer } from "../../testbed/fuse-server.js";
import { residentKb, servingPid, startProcview, PROCVIEW_CLI } from "../../testbed/procview.js";
import { startHookSocket, MAX_CONNECTIONS, IDLE_MS } from "../../hook/socket/server.js";
import { encodeRequest } from "../../hook/socket/protocol.js";
import { HOOK_CLIENT, hookSocketPath } from "../../core/paths.js";

const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
const STATE = JSON.stringify({ ociVersion: "1.0.2", id: "abc", status: "creating", pid: 4242, bundle: "/nonexistent" });

async function waitFor<T>(what: string, check: () => T | undefined | null | false, timeoutMs = 20_000): Promise<T> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const value = check();
    if (value !== undefined && value !== null && value !== false) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A stand-in for the Node hook: exits 7, so a test can tell "fell back" from "answered". */
async function fallbackScript(dir: string): Promise<string> {
  const file = join(dir, "fallback.sh");
  await writeFile(file, "#!/bin/sh\ncat > /dev/null\nexit 7\n");
  await chmod(file, 0o755);
  return file;
}

/** A scratch directory removed after the test, with the Node hook's stand-in in it. */
async function scratch(t: ExecutionContext, prefix: string): Promise<{ dir: string; fallback: string }> {
  const dir = await mkdtemp(join(tmpdir(), `procview-${prefix}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return { dir, fallback: await fallbackScript(dir) };
}

/** procview serving on a fresh mountpoint, stopped after the test, once its hook socket is up. */
async function serviceWithSocket(t: ExecutionContext, prefix: string) {
  const service = await startProcview();
  t.teardown(() => service.stop());
  const socket = hookSocketPath(service.mountPoint);
  await waitFor("the hook socket", () => statSync(socket, { throwIfNoEntry: false })?.isSocket());
  return { service, socket, ...(await scratch(t, prefix)) };
}

/** Runs procview-hook against `socket` (as `user` when given) and returns its exit and stderr. */
function runClient(socket: string, fallback: string, args: string[], user: string[] = []) {
  return execa(
    user[0] ?? HOOK_CLIENT,
    [...user.slice(1), ...(user.length ? [HOOK_CLIENT] : []), "--socket", socket, "--node", "/bin/sh", "--bundle", fallback, "--", ...args],
    {
      input: STATE,
      reject: false,
      timeout: 30_000,
    },
  );
}

test.serial(
  "under umask 000 the socket is root's alone from its first instant, through every restart of the serving process",
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), "procview-umask-"));
    chmodSync(work, 0o755);
    const runtimeDir = join(work, "run");
    let service: RunningServer | undefined;
    try {
      service = await startFuseServer({
        name: "procview-umask",
        mountPoint: join(work, "mnt"),
        command: (mountPoint) => [
          "/bin/sh",
          [
            "-c",
            'umask 000; exec "$@"',
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
      const socket = hookSocketPath(service.mountPoint, runtimeDir);
      await waitFor("the hook socket", () => {
        try {
          return statSync(socket).isSocket();
        } catch {
          return false;
        }
      });
      t.is(statSync(path.dirname(socket)).mode & 0o777, 0o700, "its directory");
      t.is(statSync(socket).mode & 0o777, 0o600, "the socket");
      t.is(statSync(socket).uid, 0);
      // An unprivileged process tries every name in the socket's directory (and the socket's own)
      // as fast as it can while the serving process is replaced again and again, until its stdin
      // closes.
      const poller = execa(
        NOBODY[0]!,
        [
          ...NOBODY.slice(1),
          process.execPath,
          "-e",
          `
        const net = require("net"), fs = require("fs"), path = require("path");
        const socket = process.argv[1];
        const dir = path.dirname(socket);
        let attempts = 0, connected = 0, listed = 0, done = false, started = false;
        process.stdin.on("end", () => (done = true)).resume();
        const tryOne = (p) => new Promise((resolve) => {
          attempts++;
          const s = net.connect(p);
          s.on("connect", () => { connected++; s.destroy(); resolve(); });
          s.on("error", () => resolve());
        });
        (async () => {
          while (!done) {
            let names = [];
            try { names = fs.readdirSync(dir); listed++; } catch {}
            await Promise.all([socket, ...names.map((n) => path.join(dir, n))].map(tryOne));
            if (!started) {
              started = true;
              console.log("polling");
            }
          }
          console.log(JSON.stringify({ attempts, connected, listed }));
        })();
        `,
          socket,
        ],
        { reject: false },
      );
      await new Promise<void>((resolve) => poller.stdout.once("data", () => resolve()));
      // Every way a serving process is replaced: the keeper's SIGHUP, `procview reload` on its
      // control socket, and a serving process killed (the standby takes over and listens).
      const mountPoint = service.mountPoint;
      const replace: ((serving: number) => unknown)[] = [
        () => process.kill(service!.pid, "SIGHUP"),
        () => execa(process.execPath, [PROCVIEW_CLI, "reload", "--mountpoint", mountPoint, "--runtime-dir", runtimeDir]),
        (serving) => process.kill(serving, "SIGKILL"),
      ];
      for (let restart = 0; restart < 2 * replace.length; restart++) {
        const before = await servingPid(mountPoint, { runtimeDir });
        await replace[restart % replace.length]!(before);
        await servingPid(mountPoint, { runtimeDir, besides: before });
        await waitFor("its socket", () => statSync(socket, { throwIfNoEntry: false })?.isSocket());
        t.is(statSync(socket).mode & 0o777, 0o600, `the socket after restart ${restart + 1}`);
      }
      poller.stdin.end();
      const polled = JSON.parse(
        String((await poller).stdout)
          .split("\n")
          .pop()!,
      ) as { attempts: number; connected: number; listed: number };
      t.log(`the unprivileged process: ${polled.attempts} connection attempts, ${polled.connected} connected, ${polled.listed} listings`);
      t.true(polled.attempts > 100);
      t.is(polled.connected, 0);
      t.is(polled.listed, 0, "it cannot even see the names");
    } finally {
      await service?.stop();
      await rm(work, { recursive: true, force: true });
    }
  },
);

test("a client that reaches the socket gets an answer only if it is root", async (t) => {
  const { dir, fallback } = await scratch(t, "peer");
  await chmod(dir, 0o755);
  const socket = join(dir, "hook.sock");
  const lines: string[] = [];
  let handled = 0;
  const server = await startHookSocket({
    path: socket,
    log: (line) => lines.push(line),
    handle: () => (handled++, Promise.resolve({ code: 3, stderr: [] })),
  });
  t.teardown(() => server.close());
  // Made reachable by hand, as a misconfiguration would: only the peer check stands now.
  await chmod(socket, 0o666);
  const nobody = await runClient(socket, fallback, [], NOBODY);
  t.is(nobody.exitCode, 7, `no answer, the client ran its Node hook: ${nobody.stderr}`);
  t.is(handled, 0);
  t.true(
    lines.some((l) => /refused a client running as uid 65534 \(pid \d+\): root only/.test(l)),
    lines.join("\n"),
  );
  const root = await runClient(socket, fallback, []);
  t.is(root.exitCode, 3, "root is answered");
  t.is(handled, 1);
});

test("a client does not hand the state to a socket that is not root's", async (t) => {
  const { dir, fallback } = await scratch(t, "impostor");
  await chmod(dir, 0o777);
  const socket = join(dir, "hook.sock");
  // An unprivileged process listens where the client will look, and records what it gets.
  const impostor = execa(
    NOBODY[0]!,
    [
      ...NOBODY.slice(1),
      process.execPath,
      "-e",
      `require("net").createServer((s) => s.on("data", () => console.log("got state"))).listen(process.argv[1], () => console.log("up"))`,
      socket,
    ],
    { reject: false },
  );
  await new Promise<void>((resolve) => impostor.stdout.once("data", () => resolve()));
  const r = await runClient(socket, fallback, []);
  impostor.kill("SIGKILL");
  const out = String((await impostor).stdout);
  t.is(r.exitCode, 7, "the client ran its Node hook");
  t.notRegex(out, /got state/);
});

test.serial("idle, half-sent, oversized and too many connections are dropped; memory stays bounded; root is still answered", async (t) => {
  const { service, socket, fallback } = await serviceWithSocket(t, "flood");
  const serving = await servingPid(service.mountPoint);
  const before = residentKb(serving);

  // 150 connections, each sending the first 512 KiB of a request that announces a 1 MiB state.
  const half = encodeRequest({ namespaces: "mnt:[1] pid:[1]", args: [], stdin: "x".repeat(1 << 20) }).subarray(0, 512 * 1024);
  const closedAt: number[] = [];
  const opened: Socket[] = [];
  const start = Date.now();
  for (let i = 0; i < 150; i++) {
    const s = connect(socket);
    s.on("error", () => undefined);
    s.on("close", () => closedAt.push(Date.now() - start));
    s.on("connect", () => s.write(half));
    opened.push(s);
  }
  const peak = await (async () => {
    let most = 0;
    for (const until = Date.now() + 1500; Date.now() < until; await new Promise((r) => setTimeout(r, 50)))
      most = Math.max(most, residentKb(serving));
    return most;
  })();
  await waitFor("every connection dropped", () => closedAt.length === opened.length, 15_000);
  const after = residentKb(serving);
  t.log(`serving process: ${before} KiB before, ${peak} KiB at most during, ${after} KiB after`);
  t.log(`connections closed by the service after ${Math.min(...closedAt)}–${Math.max(...closedAt)} ms`);
  t.true(peak - before < 48 * 1024, `grew by ${peak - before} KiB`);
  t.true(Math.max(...closedAt) < IDLE_MS + 5000);
  t.true(closedAt.filter((ms) => ms < IDLE_MS).length >= 150 - MAX_CONNECTIONS, "those beyond the caps at once");

  // A request announcing more than the protocol allows is dropped at once.
  const oversized = await new Promise<number>((resolve) => {
    const s = connect(socket);
    const sent = Date.now();
    s.on("error", () => undefined);
    s.on("close", () => resolve(Date.now() - sent));
    s.on("connect", () =>
      s.write(
        Buffer.concat([Buffer.from("PVH1"), Buffer.from([0, 0, 0, 0]), Buffer.from([0, 0, 0, 0]), Buffer.from([0xff, 0xff, 0xff, 0x7f])]),
      ),
    );
  });
  t.true(oversized < IDLE_MS, `${oversized} ms`);

  // And root's hook is answered (the service refuses the bad arguments itself: exit 1, not 7).
  const r = await runClient(socket, fallback, ["--policy", "fail", "--source", "relative"]);
  t.is(r.exitCode, 1, r.stderr);
  t.regex(r.stderr, /bad hook arguments: --source must be an absolute path/);
  // Repeated drops: one line each kind, then one with the count at the end of the interval.
  const counted = await waitFor("the count of idle drops", () =>
    /hook socket: dropped a connection idle for \d+ ms \((\d+) like it in the last 10 s\)/.exec(service.output()),
  );
  t.log(counted[0]);
  t.is(
    service
      .output()
      .split("\n")
      .filter((l) => l.includes("dropped a connection idle")).length,
    2,
  );
});

test.serial("arguments beyond a hooks.d entry's are refused, and no answer quotes a file", async (t) => {
  const { socket, fallback, dir } = await serviceWithSocket(t, "args");
  const ask = (args: string[]) => runClient(socket, fallback, ["--policy", "fail", ...args]);

  const secret = join(dir, "secret.json");
  writeFileSync(secret, "root:$y$j9T$secret-hash:19000:0:99999:7:::\n", { mode: 0o600 });
  const shadowLike = await ask(["--config", secret]);
  t.is(shadowLike.exitCode, 1);
  t.regex(shadowLike.stderr, /config .*secret\.json is not valid JSON/);
  t.notRegex(shadowLike.stderr, /root:|secret-hash|\$y\$/);
  const shadow = await ask(["--config", "/etc/shadow"]);
  t.notRegex(shadow.stderr, /root:/);

  writeFileSync(join(dir, "loose.json"), "{}");
  await chmod(join(dir, "loose.json"), 0o666);
  const loose = await ask(["--config", join(dir, "loose.json")]);
  t.regex(loose.stderr, /config .*loose\.json may be changed by others than root/);
  t.regex((await ask(["--source", "/var/lib/../procview"])).stderr, /--source must be an absolute path without "\.\."/);
  t.regex((await ask(["--config", "/etc/../etc/shadow"])).stderr, /--config must be an absolute path without "\.\."/);
  t.regex((await ask(["--evil"])).stderr, /bad hook arguments: .*unknown option '--evil'/);
  t.regex((await ask(["positional"])).stderr, /bad hook arguments: .*unexpected arguments: positional/);
});

test("no directory of the socket's is used if others may write to it", async (t) => {
  const { dir } = await scratch(t, "loose-dir");
  await chmod(dir, 0o777);
  await t.throwsAsync(startHookSocket({ path: join(dir, "hook.sock"), log: () => undefined }), { message: /may be written by others/ });
  t.deepEqual(readdirSync(dir), ["fallback.sh"], "no socket made there");
});
