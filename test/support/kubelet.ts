// Kubelet's side of a pod, from its Kubernetes spec: the CRI calls kubelet makes to run it (the
// sandbox, each container, exec probes, a graceful stop, a restart after its containers died),
// with kubelet's own translations: host namespaces, privileges and capabilities, seccomp, the
// default masked paths, hostPath volumes with their mount propagation, resources to CFS shares
// and quota, memory limit and OOM score. It knows the fields procview's manifest and the tests'
// workloads use, and refuses any other: what runs is exactly what the spec says.
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import path from "node:path";
import type { IContainer, IPodSpec, IProbe, IResourceRequirements } from "kubernetes-models/v1";
import type { IIoK8sApimachineryPkgApisMetaV1ObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta";
import { NamespaceMode, Propagation, type CriClient } from "./cri.js";

/** Kubernetes' pod (or pod template): what kubelet gets from the API server. */
export interface PodObject {
  metadata?: IIoK8sApimachineryPkgApisMetaV1ObjectMeta;
  spec?: IPodSpec;
}

export interface KubeletNode {
  cri: CriClient;
  /** A node path as this process reaches it (the node may be a mount namespace of its own). */
  nodePath(p: string): string;
  /** Where containers' logs go (kubelet's /var/log/pods). */
  logRoot: string;
}

export interface RunningContainer {
  id: string;
  attempt: number;
  spec: IContainer;
}

export interface RunningPod {
  name: string;
  namespace: string;
  uid: string;
  podId: string;
  spec: IPodSpec;
  sandboxConfig: object;
  containers: Map<string, RunningContainer>;
  /** The sandbox's log directory, as the node and this process see it. */
  logDir: string;
}

/** The fields this kubelet acts on, per object; anything else in a spec is an error. */
const KNOWN = {
  metadata: ["name", "namespace", "labels", "annotations"],
  // serviceAccountName, automountServiceAccountToken, enableServiceLinks, tolerations: the API
  // server's and the scheduler's, nothing in CRI; priorityClassName: the OOM score below.
  pod: [
    "containers",
    "volumes",
    "hostPID",
    "hostNetwork",
    "hostIPC",
    "terminationGracePeriodSeconds",
    "priorityClassName",
    "tolerations",
    "serviceAccountName",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "restartPolicy",
  ],
  container: [
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "env",
    "securityContext",
    "resources",
    "volumeMounts",
    "readinessProbe",
    "livenessProbe",
  ],
  securityContext: ["privileged", "readOnlyRootFilesystem", "runAsUser", "allowPrivilegeEscalation", "capabilities", "seccompProfile"],
  volumeMount: ["name", "mountPath", "readOnly", "mountPropagation"],
  volume: ["name", "hostPath"],
  hostPath: ["path", "type"],
  probe: ["exec", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"],
  resources: ["requests", "limits"],
  resourceName: ["cpu", "memory"],
  env: ["name", "value"],
} as const;

function known(what: keyof typeof KNOWN, object: object | undefined, where: string): void {
  for (const key of Object.keys(object ?? {}))
    if (!(KNOWN[what] as readonly string[]).includes(key))
      throw new Error(`${where}: the tests' kubelet does not handle ${what} field "${key}"`);
}

/** A Kubernetes quantity ("100m", "256Mi", "1", 2) as a number of units (cores, bytes). */
export function quantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`not a quantity the tests' kubelet reads: ${q}`);
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? scale[m[2]]! : 1);
}

/** Requests default to limits (the API server's defaulting). */
function requestsOf(r: IResourceRequirements | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r?.limits ?? {})) out[k] = quantity(v);
  for (const [k, v] of Object.entries(r?.requests ?? {})) out[k] = quantity(v);
  return out;
}

function hostMemoryBytes(): number {
  const kb = /^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1];
  return Number(kb) * 1024;
}

/** kubelet's OOM score: node-critical and Guaranteed pods -997, BestEffort 1000, Burstable in between by memory request. */
function oomScoreAdj(spec: IPodSpec, c: IContainer): number {
  if (spec.priorityClassName === "system-node-critical") return -997;
  const all = spec.containers.map((x) => ({ requests: requestsOf(x.resources), limits: x.resources?.limits ?? {} }));
  const guaranteed = all.every((x) => ["cpu", "memory"].every((r) => x.limits[r] !== undefined && quantity(x.limits[r]) === x.requests[r]));
  if (guaranteed) return -997;
  if (all.every((x) => Object.keys(x.requests).length === 0)) return 1000;
  const score = 1000 - Math.floor((1000 * (requestsOf(c.resources).memory ?? 0)) / hostMemoryBytes());
  return score < 3 ? 3 : score === 1000 ? 999 : score;
}

function linuxResources(spec: IPodSpec, c: IContainer): object {
  known("resources", c.resources, c.name);
  for (const r of [c.resources?.requests, c.resources?.limits]) known("resourceName", r, c.name);
  const requests = requestsOf(c.resources);
  const limits = c.resources?.limits ?? {};
  const out: Record<string, number> = {
    cpu_shares: Math.max(2, Math.floor(((requests.cpu ?? 0) * 1000 * 1024) / 1000)),
    oom_score_adj: oomScoreAdj(spec, c),
  };
  if (limits.cpu !== undefined) {
    out.cpu_period = 100_000;
    out.cpu_quota = Math.max(1000, Math.round(quantity(limits.cpu) * 100_000));
  }
  if (limits.memory !== undefined) out.memory_limit_in_bytes = quantity(limits.memory);
  return out;
}

/** What kubelet hides in an unprivileged container (the Default proc mount). */
const MASKED_PATHS = [
  "/proc/asound",
  "/proc/acpi",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/proc/scsi",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
];
const READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

function namespaceOptions(spec: IPodSpec): object {
  return {
    network: spec.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: spec.hostPID ? NamespaceMode.NODE : NamespaceMode.CONTAINER,
    ipc: spec.hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
  };
}

/** CRI SecurityProfile: RuntimeDefault 0, Unconfined 1 (kubelet's choice when the spec names none). */
function seccomp(profile: { type: string } | undefined, where: string): object {
  if (!profile) return { profile_type: 1 };
  if (profile.type === "RuntimeDefault") return { profile_type: 0 };
  if (profile.type === "Unconfined") return { profile_type: 1 };
  throw new Error(`${where}: the tests' kubelet has no seccomp profile ${profile.type}`);
}

function securityContext(spec: IPodSpec, c: IContainer): object {
  const sc = c.securityContext ?? {};
  known("securityContext", sc, c.name);
  const privileged = sc.privileged ?? false;
  return {
    privileged,
    namespace_options: namespaceOptions(spec),
    capabilities: { add_capabilities: sc.capabilities?.add ?? [], drop_capabilities: sc.capabilities?.drop ?? [] },
    ...(sc.runAsUser !== undefined ? { run_as_user: { value: sc.runAsUser } } : {}),
    readonly_rootfs: sc.readOnlyRootFilesystem ?? false,
    no_new_privs: sc.allowPrivilegeEscalation === false,
    masked_paths: privileged ? [] : MASKED_PATHS,
    readonly_paths: privileged ? [] : READONLY_PATHS,
    seccomp: seccomp(sc.seccompProfile, c.name),
  };
}

const PROPAGATION: Record<string, number> = {
  None: Propagation.PRIVATE,
  HostToContainer: Propagation.HOST_TO_CONTAINER,
  Bidirectional: Propagation.BIDIRECTIONAL,
};

/** hostPath volumes, prepared as kubelet prepares them (DirectoryOrCreate: made 0755; Directory: must exist). */
function hostPaths(node: KubeletNode, spec: IPodSpec): Map<string, string> {
  const paths = new Map<string, string>();
  for (const v of spec.volumes ?? []) {
    known("volume", v, `volume ${v.name}`);
    if (!v.hostPath) throw new Error(`volume ${v.name}: the tests' kubelet knows hostPath volumes only`);
    known("hostPath", v.hostPath, `volume ${v.name}`);
    const onNode = node.nodePath(v.hostPath.path);
    if (v.hostPath.type === "DirectoryOrCreate") mkdirSync(onNode, { recursive: true, mode: 0o755 });
    else if (v.hostPath.type === "Directory" && !statSync(onNode).isDirectory()) throw new Error(`${v.hostPath.path} is not a directory`);
    else if (v.hostPath.type !== "Directory") throw new Error(`volume ${v.name}: hostPath type ${v.hostPath.type} not handled`);
    paths.set(v.name, v.hostPath.path);
  }
  return paths;
}

function containerConfig(pod: RunningPod, c: IContainer, attempt: number, volumes: Map<string, string>): object {
  known("container", c, c.name);
  for (const e of c.env ?? []) known("env", e, `${c.name} env ${e.name}`);
  return {
    metadata: { name: c.name, attempt },
    image: { image: c.image },
    command: c.command ?? [],
    args: c.args ?? [],
    envs: (c.env ?? []).map((e) => ({ key: e.name, value: e.value ?? "" })),
    mounts: (c.volumeMounts ?? []).map((m) => {
      known("volumeMount", m, `${c.name} mount ${m.mountPath}`);
      const host = volumes.get(m.name);
      if (!host) throw new Error(`${c.name}: no volume ${m.name}`);
      return {
        container_path: m.mountPath,
        host_path: host,
        readonly: m.readOnly ?? false,
        propagation: PROPAGATION[m.mountPropagation ?? "None"],
      };
    }),
    labels: {
      "io.kubernetes.container.name": c.name,
      "io.kubernetes.pod.name": pod.name,
      "io.kubernetes.pod.namespace": pod.namespace,
      "io.kubernetes.pod.uid": pod.uid,
    },
    annotations: { "io.kubernetes.container.restartCount": String(attempt) },
    log_path: `${c.name}/${attempt}.log`,
    linux: { resources: linuxResources(pod.spec, c), security_context: securityContext(pod.spec, c) },
  };
}

async function startOne(node: KubeletNode, pod: RunningPod, c: IContainer, attempt: number): Promise<void> {
  const volumes = hostPaths(node, pod.spec);
  for (const p of [c.readinessProbe, c.livenessProbe]) if (p) known("probe", p, `${c.name} probe`);
  const created = await node.cri.call<{ container_id: string }>("CreateContainer", {
    pod_sandbox_id: pod.podId,
    config: containerConfig(pod, c, attempt, volumes),
    sandbox_config: pod.sandboxConfig,
  });
  await node.cri.call("StartContainer", { container_id: created.container_id });
  pod.containers.set(c.name, { id: created.container_id, attempt, spec: c });
}

/** RunPodSandbox, then each container in order (CreateContainer, StartContainer), as kubelet does. */
export async function runPod(node: KubeletNode, object: PodObject, name: string, namespace?: string): Promise<RunningPod> {
  const spec = object.spec;
  if (!spec) throw new Error(`pod ${name} has no spec`);
  known("metadata", object.metadata, `pod ${name} metadata`);
  known("pod", spec, `pod ${name}`);
  const ns = namespace ?? object.metadata?.namespace ?? "default";
  const uid = randomUUID();
  const logDir = path.join(node.logRoot, `${ns}_${name}_${uid}`);
  const sandboxConfig = {
    metadata: { name, namespace: ns, uid, attempt: 0 },
    // A host-network pod shares the node's UTS namespace: kubelet sends no hostname.
    ...(spec.hostNetwork ? {} : { hostname: name }),
    log_directory: logDir,
    labels: {
      ...object.metadata?.labels,
      "io.kubernetes.pod.name": name,
      "io.kubernetes.pod.namespace": ns,
      "io.kubernetes.pod.uid": uid,
    },
    annotations: object.metadata?.annotations ?? {},
    linux: {
      security_context: {
        namespace_options: namespaceOptions(spec),
        privileged: spec.containers.some((c) => c.securityContext?.privileged === true),
        seccomp: { profile_type: 1 },
      },
    },
  };
  const r = await node.cri.call<{ pod_sandbox_id: string }>("RunPodSandbox", { config: sandboxConfig });
  const pod: RunningPod = { name, namespace: ns, uid, podId: r.pod_sandbox_id, spec, sandboxConfig, containers: new Map(), logDir };
  for (const c of spec.containers) await startOne(node, pod, c, 0);
  return pod;
}

export function container(pod: RunningPod, name: string): RunningContainer {
  const c = pod.containers.get(name);
  if (!c) throw new Error(`pod ${pod.name} has no container ${name}`);
  return c;
}

export interface ProbeResult {
  ok: boolean;
  output: string;
}

/** One exec probe, with its timeout, as kubelet runs it (ExecSync; success is exit code 0). */
export async function probe(
  node: KubeletNode,
  pod: RunningPod,
  name: string,
  which: "readinessProbe" | "livenessProbe",
): Promise<ProbeResult> {
  const c = container(pod, name);
  const p: IProbe | undefined = c.spec[which];
  if (!p?.exec?.command) throw new Error(`${name} has no exec ${which}`);
  const timeout = p.timeoutSeconds ?? 1;
  try {
    const r = await node.cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
      "ExecSync",
      { container_id: c.id, cmd: p.exec.command, timeout },
      (timeout + 5) * 1000,
    );
    return { ok: r.exit_code === 0, output: Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString() };
  } catch (err) {
    return { ok: false, output: (err as Error).message };
  }
}

/** Runs the readiness probe of every container that has one, every periodSeconds, until all pass. */
export async function waitReady(node: KubeletNode, pod: RunningPod, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    let ready = true;
    let period = 10;
    for (const [name, c] of pod.containers) {
      if (!c.spec.readinessProbe) continue;
      const r = await probe(node, pod, name, "readinessProbe");
      period = Math.min(period, c.spec.readinessProbe.periodSeconds ?? 10);
      if (!r.ok) {
        ready = false;
        last = `${name}: ${r.output.trim()}`;
      }
    }
    if (ready) return;
    if (Date.now() > until) throw new Error(`pod ${pod.name} not ready within ${timeoutMs} ms; last probe: ${last}`);
    // kubelet probes every periodSeconds; the tests look sooner, to time what they measure.
    await new Promise((r) => setTimeout(r, Math.min(period * 1000, 250)));
  }
}

/**
 * A graceful stop as kubelet makes it: StopContainer with the pod's grace period, all containers
 * at once, then StopPodSandbox. Kubelet removes the sandbox only later, when it collects
 * garbage. Even so, the last lines a container wrote as it exited may not reach its log file
 * (containerd's copy of them can be cut off when the sandbox stops): what a test must know of
 * how a container ended, it takes from the exit codes this returns. The tests' cleanup removes
 * every sandbox.
 */
export async function stopPod(node: KubeletNode, pod: RunningPod): Promise<Map<string, number>> {
  const grace = pod.spec.terminationGracePeriodSeconds ?? 30;
  await Promise.all(
    [...pod.containers.values()].map((c) => node.cri.call("StopContainer", { container_id: c.id, timeout: grace }, (grace + 30) * 1000)),
  );
  // Each container's exit code, as kubelet reads it after a stop: 0 is a process that ended
  // of itself once told to, which its last log line may not show (see above).
  const exitCodes = new Map<string, number>();
  for (const [name, c] of pod.containers) {
    const r = await node.cri.call<{ status: { exit_code?: number } }>("ContainerStatus", { container_id: c.id });
    exitCodes.set(name, r.status.exit_code ?? 0);
  }
  await node.cri.call("StopPodSandbox", { pod_sandbox_id: pod.podId });
  return exitCodes;
}

async function state(node: KubeletNode, id: string): Promise<{ state: number; pid: number }> {
  const r = await node.cri.call<{ status: { state: number }; info: Record<string, string> }>("ContainerStatus", {
    container_id: id,
    verbose: true,
  });
  const info = JSON.parse(r.info.info ?? "{}") as { pid?: number };
  return { state: r.status.state, pid: info.pid ?? 0 };
}

/**
 * What the node does to a pod it kills abruptly (the OOM killer, a crash): SIGKILL to every
 * process of its containers at once, found by mount namespace (each container has its own, and
 * everything exec'd into it joins it). Returns how many processes it killed.
 */
export async function killPodProcesses(node: KubeletNode, pod: RunningPod): Promise<number> {
  const namespaces = new Set<string>();
  for (const c of pod.containers.values()) {
    const { pid } = await state(node, c.id);
    if (pid > 0) namespaces.add(readlinkSync(`/proc/${pid}/ns/mnt`));
  }
  const victims: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (namespaces.has(readlinkSync(`/proc/${p}/ns/mnt`))) victims.push(Number(p));
    } catch {
      // gone
    }
  }
  for (const pid of victims) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
  return victims.length;
}

/** kubelet's answer to containers that died: once each has exited, it is created and started again (restart count + 1). */
export async function restartDeadContainers(node: KubeletNode, pod: RunningPod, timeoutMs = 30_000): Promise<void> {
  const CONTAINER_EXITED = 2;
  const until = Date.now() + timeoutMs;
  for (const c of pod.containers.values())
    while ((await state(node, c.id)).state !== CONTAINER_EXITED) {
      if (Date.now() > until) throw new Error(`container ${c.spec.name} did not exit`);
      await new Promise((r) => setTimeout(r, 20));
    }
  for (const c of [...pod.containers.values()]) await startOne(node, pod, c.spec, c.attempt + 1);
}

/** The lines a container wrote to stdout and stderr (the CRI log: timestamp, stream, tag, text), with their times. */
export function containerLog(pod: RunningPod, name: string): { at: number; line: string }[] {
  const c = container(pod, name);
  let text: string;
  try {
    text = readFileSync(path.join(pod.logDir, name, `${c.attempt}.log`), "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [time, , , ...rest] = l.split(" ");
      return { at: Date.parse(time ?? ""), line: rest.join(" ") };
    });
}
