// procview's NRI plugin: registers with the runtime, subscribes to
// CreateContainer only, and answers each one with read-only bind mounts of the
// served files over /proc/... and /sys/..., decided by the same planViews()
// the OCI hook uses. It never holds a container start for long: the health
// read of <source>/proc/meminfo runs in a child process killed at a deadline
// well inside the runtime's 2 s per-request budget, and an unhealthy source
// means "add nothing", never an error.
import { appendFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { planViews, rebasePlan, type Plan } from "../plan/plan.js";
import { containerSource, existingSources, probeSource, type ProbeResult } from "../plan/probe.js";
import { NriConnection, RpcError } from "./connection.js";
import {
  Code,
  decodeConfigureRequest,
  decodeCreateContainerRequest,
  encodeConfigureResponse,
  encodeCreateContainerResponse,
  encodeEmpty,
  encodeRegisterPluginRequest,
  eventMask,
  NriEvent,
  PLUGIN_SERVICE,
  RUNTIME_SERVICE,
  type CreateContainerRequest,
  type NriMount,
  type TtrpcRequest,
} from "./messages.js";
import { readFields } from "./protobuf.js";

export const DEFAULT_PLUGIN_NAME = "procview";
export const DEFAULT_PLUGIN_IDX = "10";
/** Bind options: read-only, and nothing on these files may be a device or setuid. */
export const MOUNT_OPTIONS = ["bind", "ro", "nosuid", "nodev"] as const;

export interface PluginOptions {
  socket: string;
  pluginName: string;
  pluginIdx: string;
  source: string;
  /** Deadline for the health read of <source>/proc/meminfo. */
  probeTimeoutMs: number;
  /** Pause between connection attempts while the runtime is away. */
  retryMs: number;
  /** Use this already connected descriptor (a runtime-launched plugin gets its socket on fd 3) and stop when it closes. */
  fd?: number;
  log: (line: string) => void;
}

export interface Decision {
  mounts: NriMount[];
  /** The one log line for this event. */
  line: string;
}

const who = (req: CreateContainerRequest): string => {
  const pod = req.pod ? `${req.pod.namespace ? req.pod.namespace + "/" : ""}${req.pod.name}` : req.container.podSandboxId.slice(0, 12);
  return `${pod}/${req.container.name || req.container.id.slice(0, 12)}`;
};

// Keys the runtime itself puts on the sandbox's annotations (containerd sends
// the sandbox container's spec annotations as the pod's, including
// io.kubernetes.cri.container-type=sandbox, which must not reach the containers).
const RUNTIME_ANNOTATION = /^io\.kubernetes\.(cri|cri-o|docker)\./;

/**
 * The annotations the opt-out rules see: the pod's (kubelet puts a pod's
 * annotations on its sandbox only, never on its containers) less the
 * runtime's own keys, overridden by the container's.
 */
export function effectiveAnnotations(req: CreateContainerRequest): Record<string, string> {
  const fromPod = Object.entries(req.pod?.annotations ?? {}).filter(([k]) => !RUNTIME_ANNOTATION.test(k));
  return { ...Object.fromEntries(fromPod), ...req.container.annotations };
}

/** What planViews says for this container. Pure. */
export function planFor(req: CreateContainerRequest, source: string): Plan {
  const c = req.container;
  return planViews({
    source,
    annotations: effectiveAnnotations(req),
    mounts: c.mounts.map((m) => ({ destination: m.destination, type: m.type })),
    // NRI does not pass linux.maskedPaths; none of the runtimes' default masks covers our files.
    namespaces: c.namespaces,
    inSpec: true,
  });
}

export function toNriMounts(plan: Plan): NriMount[] {
  if (plan.kind !== "mount") return [];
  return plan.mounts.map((m) => ({ destination: m.destination, type: "bind", source: m.source, options: [...MOUNT_OPTIONS] }));
}

export type Prober = (source: string, timeoutMs: number) => Promise<ProbeResult>;

/** Decide one CreateContainer: the plan, then the health of the source; never throws. */
export async function decide(
  req: CreateContainerRequest,
  opts: Pick<PluginOptions, "source" | "probeTimeoutMs">,
  probe: Prober = probeSource,
): Promise<Decision> {
  const name = who(req);
  const sharedPlan = planFor(req, opts.source);
  if (sharedPlan.kind === "opt-out") return { mounts: [], line: `${name}: no views: ${sharedPlan.reason}` };
  if (sharedPlan.mounts.length === 0)
    return {
      mounts: [],
      line: `${name}: no views: every target skipped (${sharedPlan.skipped.map((s) => `${s.destination}: ${s.reason}`).join("; ")})`,
    };
  const health = await probe(opts.source, opts.probeTimeoutMs);
  if (!health.ok) return { mounts: [], line: `${name}: no views, container starts with the host's files: ${health.reason}` };
  const plan = rebasePlan(sharedPlan, await containerSource(opts.source, req.container.id, opts.probeTimeoutMs));
  // A bind of a missing source would fail the whole container start in runc.
  const present = await existingSources(
    plan.mounts.map((m) => m.source),
    opts.probeTimeoutMs,
  );
  if (!present)
    return { mounts: [], line: `${name}: no views: checking the files under ${opts.source} took longer than ${opts.probeTimeoutMs} ms` };
  const missing = plan.mounts.filter((m) => !present.has(m.source));
  const kept: Plan = { ...plan, mounts: plan.mounts.filter((m) => present.has(m.source)) };
  const mounts = toNriMounts(kept);
  const notes = [
    ...plan.skipped.map((s) => `skipped ${s.destination}: ${s.reason}`),
    ...missing.map((m) => `skipped ${m.destination}: ${m.source} does not exist`),
  ];
  return {
    mounts,
    line: `${name}: ${mounts.length} views (${mounts.map((m) => m.destination).join(" ")})${notes.length ? "; " + notes.join("; ") : ""}`,
  };
}

function countFields(payload: Buffer, field: number): number {
  try {
    return readFields(payload).filter((f) => f.field === field).length;
  } catch {
    return 0;
  }
}

/** The Plugin service, as the runtime calls it. */
export function makeHandler(opts: PluginOptions, probe: Prober = probeSource): (req: TtrpcRequest) => Promise<Uint8Array> {
  return async (req) => {
    if (req.service !== PLUGIN_SERVICE) throw new RpcError(Code.UNIMPLEMENTED, `service ${req.service} not implemented`);
    switch (req.method) {
      case "Configure": {
        const c = decodeConfigureRequest(req.payload);
        opts.log(`configured by ${c.runtimeName || "runtime"} ${c.runtimeVersion}; subscribed to CreateContainer; source ${opts.source}`);
        return encodeConfigureResponse(eventMask(NriEvent.CREATE_CONTAINER));
      }
      case "Synchronize":
        opts.log(
          `synchronized: the runtime has ${countFields(req.payload, 1)} pods and ${countFields(req.payload, 2)} containers (existing containers are left as they are)`,
        );
        return encodeEmpty(); // SynchronizeResponse without updates
      case "CreateContainer": {
        let ccr: CreateContainerRequest;
        try {
          ccr = decodeCreateContainerRequest(req.payload);
        } catch (err) {
          // Never fail a container start over our own decoding: answer "no adjustment".
          opts.log(`CreateContainer: no views: undecodable request: ${(err as Error).message}`);
          return encodeCreateContainerResponse([]);
        }
        const d = await decide(ccr, opts, probe);
        opts.log(d.line);
        return encodeCreateContainerResponse(d.mounts);
      }
      case "Shutdown":
        opts.log("the runtime is shutting down");
        return encodeEmpty();
      case "UpdateContainer":
      case "StopContainer":
        return encodeEmpty(); // no updates, no evictions
      case "StateChange":
        return encodeEmpty();
      default:
        throw new RpcError(Code.UNIMPLEMENTED, `method ${req.method} not implemented`);
    }
  };
}

function connectUnix(path: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.createConnection(path);
    s.once("connect", () => {
      s.removeListener("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** One connection's life: register, serve, return when it is gone. */
async function session(
  socket: net.Socket,
  opts: PluginOptions,
  handler: (req: TtrpcRequest) => Promise<Uint8Array>,
  onOpen: (c: NriConnection) => void,
): Promise<string> {
  const conn = new NriConnection(socket, handler);
  onOpen(conn);
  try {
    await conn.call(RUNTIME_SERVICE, "RegisterPlugin", encodeRegisterPluginRequest(opts.pluginName, opts.pluginIdx), 5000);
    opts.log(`registered as ${opts.pluginIdx}-${opts.pluginName}`);
  } catch (err) {
    conn.close();
    await conn.closed;
    return `registration failed: ${(err as Error).message}`;
  }
  const why = await conn.closed;
  return why ? `connection lost: ${why.message}` : "the runtime closed the connection";
}

/**
 * Run until `signal` aborts (or, on an inherited descriptor, until the runtime
 * closes it). On a socket path, reconnects every retryMs while the runtime is
 * away, logging one line when it goes and one when it is back.
 */
export async function runPlugin(opts: PluginOptions, signal: AbortSignal, probe: Prober = probeSource): Promise<void> {
  const handler = makeHandler(opts, probe);
  let current: NriConnection | undefined;
  const onAbort = (): void => current?.close();
  signal.addEventListener("abort", onAbort);
  try {
    if (opts.fd !== undefined) {
      const socket = new net.Socket({ fd: opts.fd, readable: true, writable: true });
      const why = await session(socket, opts, handler, (c) => (current = c));
      opts.log(`${why}; exiting (the runtime starts this plugin again when it restarts)`);
      return;
    }
    let reportedAway = false;
    while (!signal.aborted) {
      let socket: net.Socket;
      try {
        socket = await connectUnix(opts.socket);
      } catch (err) {
        if (!reportedAway)
          opts.log(
            `cannot reach the runtime at ${opts.socket} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); retrying every ${opts.retryMs} ms`,
          );
        reportedAway = true;
        await sleep(opts.retryMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      reportedAway = false;
      opts.log(`connected to ${opts.socket}`);
      const why = await session(socket, opts, handler, (c) => (current = c));
      current = undefined;
      if (signal.aborted) break;
      opts.log(`${why}; reconnecting`);
      await sleep(opts.retryMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** One line per event to stderr, prefixed, and appended to a log file when given. */
export function makeLogger(logFile?: string): (line: string) => void {
  return (line) => {
    const text = `procview-nri: ${line}\n`;
    process.stderr.write(text);
    if (logFile) {
      try {
        appendFileSync(logFile, `${new Date().toISOString()} ${text}`);
      } catch {
        // the log file is a convenience; stderr carries the line
      }
    }
  };
}
