// The serving process's end of procview-hook: a unix socket on which it does the
// hook's work (the same runHook as the Node hook) for a client that only forwards its arguments
// and stdin. See hook/native/procview-hook.c for why and for the fallback when nobody listens.
//
// The socket is root's only (mode 0600, made under a temporary name and renamed into place, so
// it is never reachable with looser permissions). A successor process (a restart or a reload)
// renames its own socket over ours: new hooks go to it while ours finish their requests.
import { chmodSync, readlinkSync, renameSync, statSync, unlinkSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import type { HookSettings } from "../config.js";
import type { Outcome } from "../run.js";
import { decodeRequest, encodeReply, HOOK_WATCHDOG_MS, type HookRequest } from "./protocol.js";
import { hookSocketTemporary } from "../../core/paths.js";

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
    const [{ parseHookArgs }, { applyPolicy, gaveUp, runHook }, { DEFAULT_POLICY }, { logOutcome }] = await Promise.all([
      import("../command.js"),
      import("../run.js"),
      import("../config.js"),
      import("../syslog.js"),
    ]);
    const parsed = parseHookArgs(request.args);
    if (!parsed.ok) return applyPolicy(DEFAULT_POLICY, `bad hook arguments: ${parsed.error}`);
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

export async function startHookSocket(options: HookSocketOptions): Promise<HookSocket> {
  const { path, log } = options;
  const handle = options.handle ?? hookRequestRunner(options.ownSource);
  const ownNamespaces = processNamespaces();
  let served = 0;
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const settled = (): void => {
    inFlight--;
    if (inFlight === 0) drained?.();
  };
  // allowHalfOpen: the client shuts down its sending side after the request and then waits for
  // the answer; by default Node would close our side on that EOF, before we could answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => serve(socket));

  function serve(socket: Socket): void {
    let received = Buffer.alloc(0);
    /** A whole request arrived: from then on the socket only carries our answer, or nothing. */
    let taken = false;
    // No answer at all: the client then runs the Node hook.
    const drop = (): void => {
      taken = true;
      socket.destroy();
    };
    socket.on("error", drop);
    socket.on("data", (chunk: Buffer) => {
      if (taken) return;
      received = Buffer.concat([received, chunk]);
      const decoded = decodeRequest(received);
      if (decoded.kind === "incomplete") return;
      if (decoded.kind === "invalid") {
        log(`hook socket: dropping a malformed request: ${decoded.why}`);
        return drop();
      }
      if (decoded.request.namespaces !== ownNamespaces) {
        // The bundle path and the container pid in the state are the client's; in other
        // namespaces they would name other things.
        log(
          `hook socket: a client in other namespaces (${decoded.request.namespaces || "unknown"}, ours ${ownNamespaces}) left to its Node hook`,
        );
        return drop();
      }
      taken = true;
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
  }

  const temporary = hookSocketTemporary(path, process.pid);
  try {
    unlinkSync(temporary);
  } catch {
    // none left over
  }
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(temporary, () => {
      server.off("error", reject);
      resolve();
    });
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
