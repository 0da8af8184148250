// The descriptor owner. It mounts, holds the /dev/fuse descriptor for as long as procview
// runs, and keeps exactly one serving process attached to it. It does nothing else — no cgroup
// reading, no rendering — so it has no reason to crash or to be upgraded: the kernel keeps the
// mount alive while this process holds the descriptor, and requests simply wait in the
// kernel's queue while a serving process is being replaced.
import { fork, type ChildProcess } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { MountError, closeDevice, detachMount, mountFuse, mountpointState, openFuseDevice, prepareMountpoint } from "../kernel/mount.js";
import { FromServingSchema, SERVING_FUSE_FD, type ServingConfig, type ToServing } from "./messages.js";
import { writeStatus, type KeeperStatus } from "./status.js";
import { statusPath, SERVING_ENTRY } from "../../core/paths.js";

/** A retired serving process may finish a hook under way (the hook's own watchdog is 8 s). */
const RETIRE_GRACE_MS = 10_000;

export interface KeeperOptions {
  mountPoint: string;
  serving: Omit<ServingConfig, "fd" | "epoch" | "mountPoint">;
  runtimeDir: string;
  log: (line: string) => void;
  /** Runs once the first serving process answers: brings back views of running containers. */
  afterFirstReady?: () => Promise<number>;
}

export interface Keeper {
  /** Replaces the serving process with one running the code installed now. */
  reload(): void;
  stop(): Promise<void>;
  readonly finished: Promise<void>;
}

export async function startKeeper(options: KeeperOptions): Promise<Keeper> {
  const { mountPoint, log } = options;
  prepareMountpoint(mountPoint);
  const state = mountpointState(mountPoint);
  if (state === "live") {
    throw new MountError(`${mountPoint} is already a live FUSE mount (another procview or lxcfs serves it): stop it first`);
  }
  if (state === "stale") {
    log(`replacing the stale FUSE mount left at ${mountPoint} by a server that died`);
    await detachMount(mountPoint);
  }
  const fd = openFuseDevice();
  try {
    await mountFuse({ fd, mountPoint, source: "procview" });
  } catch (err) {
    closeDevice(fd);
    throw err;
  }
  log(`mounted at ${mountPoint}; keeper pid ${process.pid}`);
  protectFromOomKiller(log);

  const status: KeeperStatus = {
    mountPoint,
    keeperPid: process.pid,
    keeperStartedAt: Date.now(),
    servingPid: null,
    servingStartedAt: null,
    restarts: 0,
    reloads: 0,
    restoredViews: 0,
    opens: 0,
    rerendered: 0,
    renderFailures: 0,
    containers: 0,
    hooksServed: 0,
    hookSocket: options.serving.hookSocket,
    updatedAt: Date.now(),
  };
  const statusFile = statusPath(mountPoint, options.runtimeDir);
  const publish = (): void => {
    status.updatedAt = Date.now();
    try {
      writeStatus(statusFile, status);
    } catch (err) {
      log(`cannot write ${statusFile}: ${String(err)}`);
    }
  };

  // Counters of serving processes that are gone, so the totals survive replacements.
  const retired = { opens: 0, rerendered: 0, renderFailures: 0, hooksServed: 0 };
  const lastStats = new Map<ChildProcess, typeof retired>();
  let epoch = 0;
  let current: ChildProcess | null = null;
  let stopping = false;
  const recentDeaths: number[] = [];
  let resolveFinished!: () => void;
  const finished = new Promise<void>((resolve) => (resolveFinished = resolve));
  let firstReady = true;

  const send = (child: ChildProcess | null, message: ToServing): void => {
    if (child?.connected) child.send(message);
  };

  const spawnServing = (why: string): ChildProcess => {
    epoch = (epoch % 4095) + 1;
    const config: ServingConfig = { ...options.serving, mountPoint, fd: SERVING_FUSE_FD, epoch };
    const child = fork(SERVING_ENTRY, [JSON.stringify(config)], {
      // Requests allocate little and briefly; V8 would otherwise grow each isolate's young
      // generation (main thread and every serving thread) to 16 MiB semi-spaces under load and
      // keep them. 1 MiB keeps scavenges short and the serving process ~35 MiB smaller after
      // the bench's 500-cgroup run (measured: 185 → 148 MiB, keeper included).
      execArgv: [...process.execArgv, "--max-semi-space-size=1"],
      stdio: ["ignore", "inherit", "inherit", fd, "ipc"],
      serialization: "json",
    });
    log(`serving process ${child.pid} started (${why})`);
    child.on("message", (raw) => {
      const message = FromServingSchema.safeParse(raw);
      if (!message.success) return;
      if (message.data.type === "ready") {
        if (child !== current) return;
        status.servingPid = child.pid ?? null;
        status.servingStartedAt = Date.now();
        publish();
        if (firstReady && options.afterFirstReady) {
          firstReady = false;
          options
            .afterFirstReady()
            .then((restored) => {
              status.restoredViews += restored;
              publish();
            })
            .catch((err) => log(`bringing back views of running containers failed: ${String(err)}`));
        }
        return;
      }
      const { opens, rerendered, renderFailures, containers, hooksServed } = message.data;
      lastStats.set(child, { opens, rerendered, renderFailures, hooksServed });
      if (child !== current) return;
      status.opens = retired.opens + opens;
      status.rerendered = retired.rerendered + rerendered;
      status.renderFailures = retired.renderFailures + renderFailures;
      status.containers = containers;
      status.hooksServed = retired.hooksServed + hooksServed;
      publish();
    });
    child.on("exit", (code, signal) => {
      const last = lastStats.get(child);
      if (last) {
        retired.opens += last.opens;
        retired.rerendered += last.rerendered;
        retired.renderFailures += last.renderFailures;
        retired.hooksServed += last.hooksServed;
        lastStats.delete(child);
      }
      // Whatever it took from the kernel and never answered must be queued again, for the
      // process that serves now.
      if (child !== current) {
        send(current, { type: "resend" });
        return;
      }
      current = null;
      if (stopping) return;
      if (code === 0 && mountpointState(mountPoint) === "free") {
        log(`${mountPoint} was unmounted; stopping`);
        void shutdown();
        return;
      }
      status.restarts++;
      const now = Date.now();
      recentDeaths.push(now);
      while (recentDeaths.length > 0 && now - recentDeaths[0]! > 10_000) recentDeaths.shift();
      // A process that dies at once over and over (a broken install) must not spin the CPU;
      // readers keep waiting in the kernel's queue either way.
      const delay = recentDeaths.length > 5 ? 1000 : 0;
      log(`serving process ${child.pid} died (${signal ?? `exit ${code}`}); starting another${delay ? " in 1 s" : ""}`);
      setTimeout(() => {
        if (!stopping) current = spawnServing("replacing one that died");
      }, delay);
    });
    return child;
  };

  current = spawnServing("first");

  function reload(): void {
    if (stopping) return;
    const old = current;
    status.reloads++;
    const next = spawnServing("reload");
    current = next;
    const retire = (raw: unknown) => {
      if (FromServingSchema.safeParse(raw).data?.type !== "ready") return;
      next.off("message", retire);
      // The new process reads requests already; the old one may hold some it never answers:
      // once it is gone, its exit handler asks the new one to have them resent. SIGTERM lets it
      // finish a hook it is running (it then kills itself); SIGKILL if that takes too long.
      if (!old) return;
      old.kill("SIGTERM");
      const kill = setTimeout(() => old.kill("SIGKILL"), RETIRE_GRACE_MS);
      old.once("exit", () => clearTimeout(kill));
    };
    next.on("message", retire);
  }

  async function shutdown(): Promise<void> {
    if (stopping) return finished;
    stopping = true;
    try {
      await detachMount(mountPoint);
    } catch (err) {
      if (mountpointState(mountPoint) !== "free") log(String(err));
    }
    current?.kill("SIGKILL");
    closeDevice(fd);
    // Killed, the serving process cannot remove its socket: procview-hook would find a dead
    // one (and fall back to the Node hook anyway), but nothing should be left behind.
    if (options.serving.hookSocket) rmSync(options.serving.hookSocket, { force: true });
    status.servingPid = null;
    publish();
    log(`unmounted ${mountPoint}`);
    resolveFinished();
  }

  return { reload, stop: shutdown, finished };
}

function protectFromOomKiller(log: (line: string) => void): void {
  try {
    // The kernel would otherwise pick whoever is largest; losing the keeper loses every view.
    writeFileSync("/proc/self/oom_score_adj", "-1000");
  } catch (err) {
    log(`cannot protect the keeper from the OOM killer: ${String(err)}`);
  }
}
