// The serving process's end of procview-hook: a unix socket on which it does the
// hook's work (the same runHook as the Node hook) for a client that only forwards its arguments
// and stdin. See hook/native/procview-hook.c for why and for the fallback when nobody listens.
//
// Only root gets an answer, whatever the umask and wherever the socket is:
//  - the socket's directory must be ours and writable by nobody else (one we create is 0700),
//    and the socket is bound under umask 177, so it is 0600 from its first instant; it is made
//    under a temporary name and renamed into place, so a client never finds a half-made one;
//  - every connection's peer is checked (SO_PEERCRED, through procview-peercred: Node cannot
//    read it) before a byte of it is read: root only;
//  - at most MAX_CONNECTIONS at once, MAX_BUFFERED bytes of unfinished requests in all, and a
//    request must arrive within REQUEST_DEADLINE_MS (idle for IDLE_MS: dropped);
//  - arguments are held to what a hooks.d entry says (checkSocketFlags), and no answer quotes
//    a file's contents.
// Whoever is refused gets no answer, and its client runs the Node hook with its own rights.
// A successor process (a restart or a reload) renames its own socket over ours: new hooks go to
// it while ours finish their requests.
import { chmodSync, lstatSync, mkdirSync, readlinkSync, renameSync, statSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { createServer, type Server, type Socket } from "node:net";
import { isMainThread } from "node:worker_threads";
import { spawn } from "node:child_process";
import type { HookSettings } from "../config.js";
import type { Outcome } from "../run.js";
import { decodeRequest, encodeReply, HOOK_WATCHDOG_MS, type HookRequest } from "./protocol.js";
import { hookSocketTemporary, PEERCRED_HELPER } from "../../core/paths.js";

/** Connections at once; more are closed at once (their clients run the Node hook). */
export const MAX_CONNECTIONS = 32;
/** Bytes of requests not yet whole, every connection together. */
export const MAX_BUFFERED = 8 * 1024 * 1024;
/** A request must be whole this long after the connection. */
export const REQUEST_DEADLINE_MS = 5000;
/** A connection that sends nothing for this long is dropped. */
export const IDLE_MS = 2000;
/** Repeated log lines of one kind: the first, then a count at most this often. */
const LOG_INTERVAL_MS = 10_000;

export interface HookAnswer {
  code: number;
  stderr: string[];
}

export type HookHandler = (request: HookRequest) => Promise<HookAnswer>;

export interface HookSocket {
  /** Requests answered so far. */
  served(): number;
  /** Stops listening; removes the socket file unless a successor has replaced it. */
  close(): Promise<void>;
  /** The removal alone, for a process that is exiting now. */
  removeFile(): void;
  /** For a process being retired (its successor owns the path by now): accepts no more and
   * resolves once the requests under way are answered. */
  drain(): Promise<void>;
}

export interface HookSocketOptions {
  path: string;
  log: (line: string) => void;
  /** Default: the hook itself (runHook), loaded on the first request. */
  handle?: HookHandler;
  /** The mountpoint this process serves, for the default handler. */
  ownSource?: string;
}

/** The hook's work for one request, with the policy applied to whatever goes wrong.
 * `ownSource`: the mountpoint this process serves (see HookContext). */
export const hookRequestRunner =
  (ownSource?: string): HookHandler =>
  async (request) => {
    const [{ parseHookArgs, checkSocketFlags }, { applyPolicy, gaveUp, runHook }, { DEFAULT_POLICY, policyFromFlags }, { logOutcome }] =
      await Promise.all([import("../command.js"), import("../run.js"), import("../config.js"), import("../syslog.js")]);
    const parsed = parseHookArgs(request.args);
    if (!parsed.ok) return applyPolicy(DEFAULT_POLICY, `bad hook arguments: ${parsed.error}`);
    const refused = checkSocketFlags(parsed.flags);
    if (refused !== null) return applyPolicy(policyFromFlags(parsed.flags) ?? DEFAULT_POLICY, `bad hook arguments: ${refused}`);
    const seen: { settings?: HookSettings } = {};
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<Outcome>((resolve) => {
      timer = setTimeout(() => resolve(gaveUp(parsed.flags, seen, HOOK_WATCHDOG_MS)), HOOK_WATCHDOG_MS);
    });
    const outcome = await Promise.race([runHook(request.stdin, parsed.flags, seen, { ownSource }), late]);
    clearTimeout(timer);
    await logOutcome(outcome);
    return outcome;
  };

/** "mnt:[N] pid:[N]" of this process, as procview-hook sends its own. */
export function processNamespaces(): string {
  return `${readlinkSync("/proc/self/ns/mnt")} ${readlinkSync("/proc/self/ns/pid")}`;
}

/** Who connected: pid and uid from SO_PEERCRED, or null when that cannot be told. */
export interface Peer {
  pid: number;
  uid: number;
}

export function peerOf(socket: Socket): Promise<Peer | null> {
  return new Promise((resolve) => {
    // The helper gets a duplicate of the accepted socket's descriptor as its descriptor 3 and
    // reads nothing from it. Not as stdin: a child's 0-2 are made blocking, and O_NONBLOCK is
    // shared with our own descriptor, whose next read would then hang the event loop. And the
    // number, not the Socket: child_process stops reading a Socket given as stdio. (Node has no
    // public accessor for a socket's descriptor; its handle has.)
    const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== "number" || fd < 0) return resolve(null);
    const child = spawn(PEERCRED_HELPER, [], { stdio: ["ignore", "pipe", "ignore", fd] });
    let out = "";
    let settled = false;
    const settle = (peer: Peer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(peer);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(null);
    }, 2000);
    // Its answer is complete when its stdout ends, whatever becomes of its exit status.
    const stdout = child.stdout;
    if (stdout === null) return settle(null);
    stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    stdout.on("end", () => {
      const match = /^(-?\d+) (\d+) \d+\n$/.exec(out);
      settle(match ? { pid: Number(match[1]), uid: Number(match[2]) } : null);
    });
    child.on("error", () => settle(null));
  });
}

/** Logs the first line of each kind at once, and what came after it within the interval as one
 * line with a count at the interval's end. */
function rateLimited(log: (line: string) => void): (kind: string, line: string) => void {
  const kinds = new Map<string, { since: number; more: number; last: string; timer?: NodeJS.Timeout }>();
  return (kind, line) => {
    const now = Date.now();
    const seen = kinds.get(kind);
    if (seen === undefined || now - seen.since >= LOG_INTERVAL_MS) {
      kinds.set(kind, { since: now, more: 0, last: line });
      log(`hook socket: ${line}`);
      return;
    }
    seen.more++;
    seen.last = line;
    seen.timer ??= setTimeout(
      () => {
        log(`hook socket: ${seen.last} (${seen.more} like it in the last ${LOG_INTERVAL_MS / 1000} s)`);
        kinds.set(kind, { since: Date.now(), more: 0, last: seen.last });
      },
      seen.since + LOG_INTERVAL_MS - now,
    ).unref();
  };
}

/**
 * The socket's directory: made 0700 when missing (its parents 0755), whatever the umask; when
 * it exists, it must be a directory of ours that nobody else may write to, or nobody else could
 * be kept from replacing the socket.
 */
function prepareDirectory(dir: string): void {
  let stats;
  try {
    stats = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    prepareParents(dirname(dir));
    mkdirSync(dir, { mode: 0o700 });
    chmodSync(dir, 0o700);
    return;
  }
  if (!stats.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (stats.uid !== process.geteuid?.()) throw new Error(`${dir} belongs to uid ${stats.uid}, not to procview's`);
  if ((stats.mode & 0o022) !== 0) throw new Error(`${dir} may be written by others (mode ${(stats.mode & 0o7777).toString(8)})`);
}

function prepareParents(dir: string): void {
  try {
    statSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    prepareParents(dirname(dir));
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
  }
}

export async function startHookSocket(options: HookSocketOptions): Promise<HookSocket> {
  const { path, log } = options;
  const handle = options.handle ?? hookRequestRunner(options.ownSource);
  const ownNamespaces = processNamespaces();
  const note = rateLimited(log);
  let served = 0;
  let inFlight = 0;
  let buffered = 0;
  let drained: (() => void) | undefined;
  const settled = (): void => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  // allowHalfOpen: the client shuts down its sending side after the request and then waits for
  // the answer; by default Node would close our side on that EOF, before we could answer.
  // pauseOnConnect: nothing is read from a connection before its peer is known.
  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    peerOf(socket).then(
      (peer) => {
        // Root, or whoever procview itself runs as (who owns it anyway): only root in production.
        if (peer !== null && (peer.uid === 0 || peer.uid === process.geteuid?.())) return serve(socket);
        note(
          "peer",
          peer
            ? `refused a client running as uid ${peer.uid} (pid ${peer.pid}): root only (or procview's own uid)`
            : "refused a client whose credentials are unknown",
        );
        socket.destroy();
      },
      () => socket.destroy(),
    );
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on("drop", () => note("full", `refused a connection: ${MAX_CONNECTIONS} already open`));

  function serve(socket: Socket): void {
    /** What arrived so far, in a buffer grown by doubling (no copy of it all at each chunk). */
    let bytes = Buffer.alloc(0);
    let received = 0;
    /** A whole request arrived: from then on the socket only carries our answer, or nothing. */
    let taken = false;
    const forget = (): void => {
      buffered -= received;
      received = 0;
      bytes = Buffer.alloc(0);
    };
    // No answer at all: the client then runs the Node hook.
    const drop = (kind?: string, why?: string): void => {
      if (kind !== undefined && why !== undefined) note(kind, why);
      taken = true;
      clearTimeout(deadline);
      forget();
      socket.destroy();
    };
    const deadline = setTimeout(() => drop("slow", `dropped a request not whole after ${REQUEST_DEADLINE_MS} ms`), REQUEST_DEADLINE_MS);
    socket.setTimeout(IDLE_MS, () => {
      if (!taken) drop("idle", `dropped a connection idle for ${IDLE_MS} ms`);
    });
    socket.on("error", () => drop());
    socket.on("close", () => {
      clearTimeout(deadline);
      forget();
    });
    socket.on("data", (chunk: Buffer) => {
      if (taken) return;
      if (buffered + chunk.length > MAX_BUFFERED)
        return drop("buffered", `dropped a request: ${MAX_BUFFERED} bytes of requests already under way`);
      if (received + chunk.length > bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(64 * 1024, 2 * bytes.length, received + chunk.length));
        bytes.copy(grown, 0, 0, received);
        bytes = grown;
      }
      chunk.copy(bytes, received);
      received += chunk.length;
      buffered += chunk.length;
      const decoded = decodeRequest(bytes.subarray(0, received));
      if (decoded.kind === "incomplete") return;
      if (decoded.kind === "invalid") return drop("malformed", `dropped a malformed request: ${decoded.why}`);
      taken = true;
      clearTimeout(deadline);
      socket.setTimeout(0);
      forget();
      if (decoded.request.namespaces !== ownNamespaces) {
        // The bundle path and the container pid in the state are the client's; in other
        // namespaces they would name other things.
        return drop(
          "namespaces",
          `a client in other namespaces (${decoded.request.namespaces || "unknown"}, ours ${ownNamespaces}) left to its Node hook`,
        );
      }
      socket.pause();
      inFlight++;
      handle(decoded.request)
        .finally(settled)
        .then(
          // Counted once the answer is handed to the kernel: a client that went away falls back and
          // counts nothing. Destroyed then, since a paused socket would never see the client's EOF.
          (outcome) =>
            socket.end(encodeReply(outcome.code, outcome.stderr), () => {
              served++;
              socket.destroy();
            }),
          (err: unknown) => {
            // The handler applies the policy itself; this is a bug.
            log(`hook socket: request failed: ${(err as Error).stack ?? String(err)}`);
            drop();
          },
        );
    });
    // The client stopped sending before a whole request arrived.
    socket.on("end", () => {
      if (!taken) drop();
    });
    socket.resume();
  }

  prepareDirectory(dirname(path));
  const temporary = hookSocketTemporary(path, process.pid);
  try {
    unlinkSync(temporary);
  } catch {
    // none left over
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // bind() happens inside listen(): under this umask the socket is 0600 from the start. Only
    // a process's main thread may set it; the serving process listens there (a test's worker
    // thread relies on the socket's 0700 directory instead).
    const umask = isMainThread ? process.umask(0o177) : undefined;
    try {
      server.listen(temporary, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  });
  let ino: number;
  try {
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
    ino = statSync(path).ino;
  } catch (err) {
    server.close();
    throw err;
  }
  server.on("error", (err) => log(`hook socket: ${err.message}`));

  const removeFile = (): void => {
    try {
      if (statSync(path).ino === ino) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  return {
    served: () => served,
    removeFile,
    drain: () =>
      new Promise<void>((resolve) => {
        server.close();
        if (inFlight === 0) resolve();
        else drained = resolve;
      }),
    close: () =>
      new Promise<void>((resolve) => {
        removeFile();
        server.close(() => resolve());
      }),
  };
}
