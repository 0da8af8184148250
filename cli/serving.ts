// Entry of a serving process, started by the keeper (fuse/keeper/native): the config as argv[2],
// its epoch as argv[3], fd 3 the channel to the keeper and fd 4 the /dev/fuse descriptor. It
// starts as a standby (see fuse/server/serving-process.ts) and serves once the keeper says so.
import { writeSync } from "node:fs";
import { Socket } from "node:net";
import { startServing } from "../fuse/server/serving-process.js";
import {
  EpochSchema,
  formatFromServing,
  KEEPER_CHANNEL_FD,
  ServingConfigSchema,
  ToServingSchema,
  type FromServing,
  type ToServing,
} from "../fuse/keeper/messages.js";
import { startHookSocket, type HookSocket } from "../hook/socket/server.js";
import { describeZodError, errorMessage } from "../core/errors.js";

const log = (line: string): void => {
  writeSync(2, `procview[${process.pid}] ${line}\n`);
};

// If this process must die, it dies whole and at once. Node's own exit (on an uncaught error,
// or process.exit) waits for the serving threads, which sit in read() on /dev/fuse: the process
// would linger with nobody sampling loads, or hang, and the keeper would not replace it. SIGKILL
// cannot be waited on; the keeper sees the exit and a successor has the kernel resend whatever
// this one had taken.
const dieWhole = (what: string, err: unknown): void => {
  const detail = err === null ? "" : `: ${err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)}`;
  log(`${what}${detail}; the serving process ends here`);
  process.kill(process.pid, "SIGKILL");
};
process.on("uncaughtException", (err) => dieWhole("uncaught error", err));
process.on("unhandledRejection", (err) => dieWhole("unhandled rejection", err));

const parsed = ServingConfigSchema.safeParse(JSON.parse(process.argv[2] ?? "null"));
const epoch = EpochSchema.safeParse(process.argv[3]);
if (!parsed.success || !epoch.success) {
  log(`serving process: bad config: ${parsed.success ? "epoch: expected 1..4095" : describeZodError(parsed.error)}`);
  process.exit(2);
}
const config = parsed.data;
const serving = startServing({ ...config, epoch: epoch.data, log, fatal: (why) => dieWhole(why, null) });

const channel = new Socket({ fd: KEEPER_CHANNEL_FD, readable: true, writable: true });
const send = (message: FromServing): void => {
  if (!channel.destroyed) channel.write(formatFromServing(message));
};
// The keeper is our only reason to live: when it goes, the descriptor it owns goes too. At
// once and whole: exit() would wait for the serving threads, blocked in read() on /dev/fuse.
channel.on("close", () => process.kill(process.pid, "SIGKILL"));
channel.on("error", () => process.kill(process.pid, "SIGKILL"));
let pending = "";
channel.setEncoding("utf8");
channel.on("data", (chunk: string) => {
  pending += chunk;
  for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
    const message = ToServingSchema.safeParse(pending.slice(0, end));
    pending = pending.slice(end + 1);
    if (message.success) void obey(message.data);
    else log("ignoring a malformed message from the keeper");
  }
});

let hookSocket: HookSocket | undefined;
let reporter: NodeJS.Timeout | undefined;

async function obey(message: ToServing): Promise<void> {
  if (message === "resend") serving.resend();
  else if (message === "activate") await activate();
  else {
    // Loaded only by the one process that does it, once after a fresh mount.
    const { restoreDeadViews } = await import("../fuse/keeper/restore.js");
    const views = await restoreDeadViews({
      mountPoint: config.mountPoint,
      connections: config.connections,
      procRoot: config.render.procRoot,
      log,
    }).catch((err) => {
      log(`bringing back views of running containers failed: ${errorMessage(err)}`);
      return 0;
    });
    send({ type: "restored", views });
  }
}

async function activate(): Promise<void> {
  if (reporter) return;
  reporter = setInterval(() => {
    try {
      send({ type: "stats", ...serving.stats(), hooksServed: hookSocket?.served() ?? 0 });
    } catch (err) {
      // The channel closed under us: its "close" ends this process next.
      log(`cannot report to the keeper: ${errorMessage(err)}`);
    }
  }, 1000);
  serving.activate();
  // Whatever a predecessor read and never answered goes back to the queue, to us.
  serving.resend();
  // The socket is a fast path: procview-hook runs the Node hook whenever nobody answers on it.
  // Renamed over a predecessor's, it takes the new hooks from now on.
  if (config.hookSocket) {
    const path = config.hookSocket;
    try {
      hookSocket = await startHookSocket({ path, log, ownSource: config.mountPoint });
      process.on("exit", () => hookSocket?.removeFile());
    } catch (err) {
      log(`cannot listen for procview-hook on ${path}: ${(err as Error).message}; container starts run the Node hook`);
    }
  }
  send({ type: "ready" });
}

// Retired by the keeper after a reload or a handoff, once the successor serves (and owns the
// hook socket's path). A hook under way is finished first: killed mid-way, its client would run
// the Node hook and bind the views a second time. SIGKILL ends us at once: a clean exit would
// wait for the serving threads, which sit in read() on /dev/fuse until the next request.
process.on("SIGTERM", () => {
  void (hookSocket?.drain() ?? Promise.resolve()).finally(() => process.kill(process.pid, "SIGKILL"));
});

void serving.standing.then(() => send({ type: "standby" }));
void serving.finished.then(async () => {
  clearInterval(reporter);
  await hookSocket?.close();
  log("the filesystem is gone; serving process exits");
  process.exit(0);
});
