// Kubelet's side of CRI, over gRPC with the real api.proto (Debian's
// golang-github-kubernetes-cri-api-dev): just the calls the tests make.
import { existsSync } from "node:fs";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const CRI_PROTO = "/usr/share/gocode/src/k8s.io/cri-api/pkg/apis/runtime/v1/api.proto";
const INCLUDES = ["/usr/share/gocode/src", "/usr/share/gocode/src/github.com/gogo/protobuf/protobuf"];

type Unary = (req: object, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export class CriClient {
  private readonly runtime: Record<string, Unary> & grpc.Client;

  private constructor(runtime: grpc.Client) {
    this.runtime = runtime as Record<string, Unary> & grpc.Client;
  }

  static async connect(address: string): Promise<CriClient> {
    if (!existsSync(CRI_PROTO))
      throw new Error(
        `${CRI_PROTO} is missing: install golang-github-kubernetes-cri-api-dev (trixie), as npm test's system-deps step does`,
      );
    const def = await protoLoader.load(CRI_PROTO, { includeDirs: INCLUDES, keepCase: true, longs: Number, enums: Number, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: typeof grpc.Client } } };
    const Runtime = pkg.runtime.v1.RuntimeService;
    return new CriClient(new Runtime(`unix://${address}`, grpc.credentials.createInsecure()));
  }

  call<T = unknown>(method: string, req: object, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const fn = this.runtime[method];
      if (typeof fn !== "function") return reject(new Error(`no CRI method ${method}`));
      fn.call(this.runtime, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(new Error(`CRI ${method}: ${err.message}`)) : resolve(res as T),
      );
    });
  }

  close(): void {
    this.runtime.close();
  }
}

/** CRI NamespaceMode: POD (the pod's own), CONTAINER, NODE (the host's). */
export const NamespaceMode = { POD: 0, CONTAINER: 1, NODE: 2 } as const;
/** CRI MountPropagation. */
export const Propagation = { PRIVATE: 0, HOST_TO_CONTAINER: 1, BIDIRECTIONAL: 2 } as const;

export interface PodOptions {
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** Host network (default: true, so that no CNI is needed), PID and IPC namespaces. */
  hostNetwork?: boolean;
  hostPid?: boolean;
  hostIpc?: boolean;
  privileged?: boolean;
}

export interface PodHandle {
  podId: string;
  config: object;
}

/** RunPodSandbox as kubelet sends it (the sandbox config is kept: CreateContainer needs it again). */
export async function runPod(cri: CriClient, name: string, o: PodOptions = {}): Promise<PodHandle> {
  const mode = (host: boolean | undefined): number => (host ? NamespaceMode.NODE : NamespaceMode.POD);
  const config = {
    metadata: { name, uid: `${name}-uid`, namespace: o.namespace ?? "procview-test", attempt: 0 },
    annotations: o.annotations ?? {},
    labels: o.labels ?? {},
    linux: {
      security_context: {
        namespace_options: { network: mode(o.hostNetwork ?? true), pid: mode(o.hostPid), ipc: mode(o.hostIpc) },
        privileged: o.privileged ?? false,
      },
    },
  };
  const r = await cri.call<{ pod_sandbox_id: string }>("RunPodSandbox", { config });
  return { podId: r.pod_sandbox_id, config };
}

export interface HostMount {
  hostPath: string;
  containerPath: string;
  readonly?: boolean;
  propagation?: (typeof Propagation)[keyof typeof Propagation];
}

export interface ContainerOptions {
  image: string;
  command?: string[];
  args?: string[];
  env?: Record<string, string>;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  memoryBytes?: number;
  /** CFS quota in CPUs (period 100 ms). */
  cpus?: number;
  mounts?: HostMount[];
  privileged?: boolean;
}

export async function createContainer(cri: CriClient, pod: PodHandle, name: string, o: ContainerOptions): Promise<string> {
  const resources: Record<string, number> = {};
  if (o.memoryBytes) resources.memory_limit_in_bytes = o.memoryBytes;
  if (o.cpus) {
    resources.cpu_period = 100_000;
    resources.cpu_quota = Math.round(o.cpus * 100_000);
  }
  const created = await cri.call<{ container_id: string }>("CreateContainer", {
    pod_sandbox_id: pod.podId,
    config: {
      metadata: { name, attempt: 0 },
      image: { image: o.image },
      command: o.command ?? ["/bin/sleep", "3600"],
      args: o.args ?? [],
      envs: Object.entries(o.env ?? {}).map(([key, value]) => ({ key, value })),
      annotations: o.annotations ?? {},
      labels: o.labels ?? {},
      mounts: (o.mounts ?? []).map((m) => ({
        host_path: m.hostPath,
        container_path: m.containerPath,
        readonly: m.readonly ?? false,
        propagation: m.propagation ?? Propagation.PRIVATE,
      })),
      linux: { resources, security_context: { privileged: o.privileged ?? false } },
    },
    sandbox_config: pod.config,
  });
  return created.container_id;
}

/** CreateContainer then StartContainer, as kubelet does for each container of a pod. */
export async function startContainer(cri: CriClient, pod: PodHandle, name: string, o: ContainerOptions): Promise<string> {
  const id = await createContainer(cri, pod, name, o);
  await cri.call("StartContainer", { container_id: id });
  return id;
}

export async function execSync(cri: CriClient, containerId: string, cmd: string[]): Promise<string> {
  const r = await cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>("ExecSync", {
    container_id: containerId,
    cmd,
    timeout: 20,
  });
  if (r.exit_code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exit_code}: ${Buffer.from(r.stderr).toString()}`);
  return Buffer.from(r.stdout).toString();
}

export async function stopContainer(cri: CriClient, containerId: string, timeoutS = 5): Promise<void> {
  await cri.call("StopContainer", { container_id: containerId, timeout: timeoutS });
}

export async function removeContainer(cri: CriClient, containerId: string): Promise<void> {
  await cri.call("RemoveContainer", { container_id: containerId });
}

/** StopPodSandbox then RemovePodSandbox (its containers go with it). */
export async function removePod(cri: CriClient, podId: string): Promise<void> {
  await cri.call("StopPodSandbox", { pod_sandbox_id: podId });
  await cri.call("RemovePodSandbox", { pod_sandbox_id: podId });
}

/** Stop and remove every sandbox (and with it its containers). */
export async function removeAllPods(cri: CriClient): Promise<void> {
  const list = await cri.call<{ items: { id: string }[] }>("ListPodSandbox", {});
  for (const p of list.items ?? []) await removePod(cri, p.id).catch(() => undefined);
}
