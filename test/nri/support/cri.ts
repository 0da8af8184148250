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

const NODE = 2; // NamespaceMode.NODE: host network, no CNI needed

export interface PodHandle {
  podId: string;
  config: object;
}

export async function runPod(cri: CriClient, name: string, annotations: Record<string, string> = {}): Promise<PodHandle> {
  const config = {
    metadata: { name, uid: `${name}-uid`, namespace: "procview-test", attempt: 0 },
    annotations,
    linux: { security_context: { namespace_options: { network: NODE, pid: 0, ipc: 0 } } },
  };
  const r = await cri.call<{ pod_sandbox_id: string }>("RunPodSandbox", { config });
  return { podId: r.pod_sandbox_id, config };
}

export interface ContainerOptions {
  image: string;
  annotations?: Record<string, string>;
  memoryBytes?: number;
  /** CFS quota in CPUs (period 100 ms). */
  cpus?: number;
}

export async function startContainer(cri: CriClient, pod: PodHandle, name: string, o: ContainerOptions): Promise<string> {
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
      command: ["/bin/sleep", "3600"],
      annotations: o.annotations ?? {},
      linux: { resources },
    },
    sandbox_config: pod.config,
  });
  await cri.call("StartContainer", { container_id: created.container_id });
  return created.container_id;
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

/** Stop and remove every sandbox (and with it its containers). */
export async function removeAllPods(cri: CriClient): Promise<void> {
  const list = await cri.call<{ items: { id: string }[] }>("ListPodSandbox", {});
  for (const p of list.items ?? []) {
    await cri.call("StopPodSandbox", { pod_sandbox_id: p.id }).catch(() => undefined);
    await cri.call("RemovePodSandbox", { pod_sandbox_id: p.id }).catch(() => undefined);
  }
}
