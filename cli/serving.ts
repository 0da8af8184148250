// Entry of a serving process started by the keeper: the /dev/fuse descriptor arrives as fd 3,
// the config as argv[2], and the IPC channel to the keeper is set up by fork().
import { mkdirSync, writeFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { startServing } from "../fuse/server/serving-process.js";
import { FromServing, ServingConfigSchema, ToServingSchema } from "../fuse/keeper/messages.js";
import { startHookSocket, type HookSocket } from "../hook/socket/server.js";
import { describeZodError, errorMessage } from "../core/errors.js";

const log = (line: string): void => {
  writeSync(2, `procview[${process.pid}] ${line}\n`);
};

// If this process must die, it dies whole and at once. Node's own exit on an uncaught error
// waits for the serving threads, which sit in read() on /dev/fuse: the process would linger
// with nobody sampling loads, or hang, and the keeper would not replace it. SIGKILL cannot be
// waited on; the keeper sees the exit and starts a successor, which has the kernel resend
// whatever this one had taken.
const dieWhole = (what: string, err: unknown): void => {
  const detail = err === null ? "" : `: ${err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)}`;
  log(`${what}${detail}; the serving process ends here`);
  process.kill(process.pid, "SIGKILL");
};
process.on("uncaughtException", (err) => dieWhole("uncaught error", err));
process.on("unhandledRejection", (err) => dieWhole("unhandled rejection", err));

const parsed = ServingConfigSchema.safeParse(JSON.parse(process.argv[2] ?? "null"));
if (!parsed.success) {
  log(`serving process: bad config: ${describeZodError(parsed.error)}`);
  process.exit(2);
}
const config = parsed.data;
try {
  // fork() handed us the keeper's OOM protection; this process is the one to sacrifice
  // under memory pressure (the keeper starts another at once), not the keeper.
  writeFileSync("/proc/self/oom_score_adj", "0");
} catch {
  // Not root (tests on fixtures): nothing to give back.
}

const send = (message: FromServing): void => {
  if (process.connected) process.send?.(message);
};

const serving = startServing({ ...config, log, fatal: (why) => dieWhole(why, null) });

process.on("message", (raw) => {
  const message = ToServingSchema.safeParse(raw);
  if (!message.success) return log(`ignoring a malformed message from the keeper`);
  if (message.data.type === "resend") serving.resend();
});
// The keeper is our only reason to live: when it goes, the descriptor it owns goes too. At
// once and whole: exit() would wait for the serving threads, blocked in read() on /dev/fuse.
process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
// Retired by the keeper after a reload, once the successor is ready (and owns the hook socket's
// path). A hook under way is finished first: killed mid-way, its client would run the Node hook
// and bind the views a second time. SIGKILL ends us at once: a clean exit would wait for the
// serving threads, which sit in read() on /dev/fuse until the next request.
process.on("SIGTERM", () => {
  void (hookSocket?.drain() ?? Promise.resolve()).finally(() => process.kill(process.pid, "SIGKILL"));
});

// After the handlers above, so that no message from the keeper arrives while nobody listens;
// before "ready", on which the keeper retires a predecessor (and its socket) after a reload.
// The socket is a fast path: procview-hook runs the Node hook whenever nobody answers on it.
let hookSocket: HookSocket | undefined;
if (config.hookSocket) {
  const path = config.hookSocket;
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    hookSocket = await startHookSocket({ path, log, ownSource: config.mountPoint });
    process.on("exit", () => hookSocket?.removeFile());
  } catch (err) {
    log(`cannot listen for procview-hook on ${path}: ${(err as Error).message}; container starts run the Node hook`);
  }
}

// Whatever a predecessor read and never answered goes back to the queue, to us.
serving.resend();
send({ type: "ready" });

const reporter = setInterval(() => {
  try {
    send({ type: "stats", ...serving.stats(), hooksServed: hookSocket?.served() ?? 0 });
  } catch (err) {
    // The channel closed under us: "disconnect" ends this process next.
    log(`cannot report to the keeper: ${(err as Error).message}`);
  }
}, 1000);
void serving.finished.then(async () => {
  clearInterval(reporter);
  await hookSocket?.close();
  log("the filesystem is gone; serving process exits");
  process.exit(0);
});
