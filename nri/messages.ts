// The messages procview exchanges with a runtime over NRI: ttrpc's envelope
// (request.proto: Request, Response, google.rpc Status) and the parts of NRI's
// api.proto (package nri.pkg.api.v1alpha1, the version containerd 1.7 speaks)
// the plugin reads or writes. Decoded values are checked with zod: they come
// from another process.
import { z } from "zod";
import { asBytes, asInt32, asInt64, asMapEntry, asString, type Field, ProtoWriter, readFields } from "./protobuf.js";

export const NRI_PACKAGE = "nri.pkg.api.v1alpha1";
export const RUNTIME_SERVICE = `${NRI_PACKAGE}.Runtime`;
export const PLUGIN_SERVICE = `${NRI_PACKAGE}.Plugin`;

/** api.proto enum Event. A subscription is a mask with bit (event - 1) set per event (pkg/api/event.go). */
export const NriEvent = {
  RUN_POD_SANDBOX: 1,
  STOP_POD_SANDBOX: 2,
  REMOVE_POD_SANDBOX: 3,
  CREATE_CONTAINER: 4,
  POST_CREATE_CONTAINER: 5,
  START_CONTAINER: 6,
  POST_START_CONTAINER: 7,
  UPDATE_CONTAINER: 8,
  POST_UPDATE_CONTAINER: 9,
  STOP_CONTAINER: 10,
  REMOVE_CONTAINER: 11,
} as const;
export const eventMask = (...events: number[]): number => events.reduce((m, e) => m | (1 << (e - 1)), 0);

/** gRPC status codes used in ttrpc responses. */
export const Code = { OK: 0, INVALID_ARGUMENT: 3, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;

// ---- ttrpc envelope (github.com/containerd/ttrpc request.proto) ----

export const TtrpcRequestSchema = z.object({
  service: z.string(),
  method: z.string(),
  payload: z.instanceof(Buffer),
  timeoutNano: z.bigint(),
  metadata: z.array(z.tuple([z.string(), z.string()])),
});
export type TtrpcRequest = z.infer<typeof TtrpcRequestSchema>;

export function encodeTtrpcRequest(req: { service: string; method: string; payload: Uint8Array; timeoutNano?: bigint }): Buffer {
  return new ProtoWriter()
    .string(1, req.service)
    .string(2, req.method)
    .bytes(3, req.payload)
    .int(4, req.timeoutNano ?? 0n)
    .finish();
}

export function decodeTtrpcRequest(buf: Uint8Array): TtrpcRequest {
  const out = { service: "", method: "", payload: Buffer.alloc(0) as Buffer, timeoutNano: 0n, metadata: [] as [string, string][] };
  for (const f of readFields(buf)) {
    if (f.field === 1) out.service = asString(f);
    else if (f.field === 2) out.method = asString(f);
    else if (f.field === 3) out.payload = asBytes(f);
    else if (f.field === 4) out.timeoutNano = asInt64(f);
    else if (f.field === 5) out.metadata.push(asMapEntry(f));
  }
  return TtrpcRequestSchema.parse(out);
}

export const TtrpcResponseSchema = z.object({
  status: z.object({ code: z.number().int(), message: z.string() }),
  payload: z.instanceof(Buffer),
});
export type TtrpcResponse = z.infer<typeof TtrpcResponseSchema>;

export function encodeTtrpcResponse(res: { code?: number; message?: string; payload?: Uint8Array }): Buffer {
  const w = new ProtoWriter();
  if (res.code) w.message(1, new ProtoWriter().int(1, res.code).string(2, res.message));
  return w.bytes(2, res.payload ?? Buffer.alloc(0)).finish();
}

export function decodeTtrpcResponse(buf: Uint8Array): TtrpcResponse {
  const out = { status: { code: 0, message: "" }, payload: Buffer.alloc(0) as Buffer };
  for (const f of readFields(buf)) {
    if (f.field === 1) {
      for (const s of readFields(asBytes(f))) {
        if (s.field === 1) out.status.code = asInt32(s);
        else if (s.field === 2) out.status.message = asString(s);
      }
    } else if (f.field === 2) out.payload = asBytes(f);
  }
  return TtrpcResponseSchema.parse(out);
}

// ---- NRI: what the plugin sends ----

export const encodeRegisterPluginRequest = (pluginName: string, pluginIdx: string): Buffer =>
  new ProtoWriter().string(1, pluginName).string(2, pluginIdx).finish();

export const encodeConfigureResponse = (events: number): Buffer => new ProtoWriter().int(2, events).finish();

export const encodeEmpty = (): Buffer => Buffer.alloc(0);

export interface NriMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

function mountMessage(m: NriMount): ProtoWriter {
  const w = new ProtoWriter().string(1, m.destination).string(2, m.type).string(3, m.source);
  for (const o of m.options) w.string(4, o);
  return w;
}

/** CreateContainerResponse{adjust: ContainerAdjustment{mounts}}; no adjustment at all when there is nothing to add. */
export function encodeCreateContainerResponse(mounts: readonly NriMount[]): Buffer {
  const w = new ProtoWriter();
  if (mounts.length === 0) return w.finish();
  const adjust = new ProtoWriter();
  for (const m of mounts) adjust.message(3, mountMessage(m));
  return w.message(1, adjust).finish();
}

// ---- NRI: what the runtime sends ----

export const ConfigureRequestSchema = z.object({ config: z.string(), runtimeName: z.string(), runtimeVersion: z.string() });
export type ConfigureRequest = z.infer<typeof ConfigureRequestSchema>;

export function decodeConfigureRequest(buf: Uint8Array): ConfigureRequest {
  const out = { config: "", runtimeName: "", runtimeVersion: "" };
  for (const f of readFields(buf)) {
    if (f.field === 1) out.config = asString(f);
    else if (f.field === 2) out.runtimeName = asString(f);
    else if (f.field === 3) out.runtimeVersion = asString(f);
  }
  return ConfigureRequestSchema.parse(out);
}

const MountSchema = z.object({ destination: z.string(), type: z.string(), source: z.string(), options: z.array(z.string()) });
const NamespaceSchema = z.object({ type: z.string(), path: z.string() });
const StringMap = z.record(z.string(), z.string());

export const PodSandboxSchema = z.object({
  id: z.string(),
  name: z.string(),
  uid: z.string(),
  namespace: z.string(),
  labels: StringMap,
  annotations: StringMap,
});
export type PodSandbox = z.infer<typeof PodSandboxSchema>;

export const ContainerSchema = z.object({
  id: z.string(),
  podSandboxId: z.string(),
  name: z.string(),
  labels: StringMap,
  annotations: StringMap,
  mounts: z.array(MountSchema),
  /** linux.namespaces; undefined when the runtime sent no linux part at all. */
  namespaces: z.array(NamespaceSchema).optional(),
});
export type Container = z.infer<typeof ContainerSchema>;

export const CreateContainerRequestSchema = z.object({ pod: PodSandboxSchema.optional(), container: ContainerSchema });
export type CreateContainerRequest = z.infer<typeof CreateContainerRequestSchema>;

function decodeMount(f: Field): NriMount {
  const m: NriMount = { destination: "", type: "", source: "", options: [] };
  for (const g of readFields(asBytes(f))) {
    if (g.field === 1) m.destination = asString(g);
    else if (g.field === 2) m.type = asString(g);
    else if (g.field === 3) m.source = asString(g);
    else if (g.field === 4) m.options.push(asString(g));
  }
  return m;
}

function decodeNamespaces(f: Field): { type: string; path: string }[] {
  // LinuxContainer{namespaces = 1: repeated LinuxNamespace{type = 1, path = 2}}
  const out: { type: string; path: string }[] = [];
  for (const g of readFields(asBytes(f))) {
    if (g.field !== 1) continue;
    const ns = { type: "", path: "" };
    for (const h of readFields(asBytes(g))) {
      if (h.field === 1) ns.type = asString(h);
      else if (h.field === 2) ns.path = asString(h);
    }
    out.push(ns);
  }
  return out;
}

export function decodePodSandbox(buf: Uint8Array): PodSandbox {
  const p = { id: "", name: "", uid: "", namespace: "", labels: {} as Record<string, string>, annotations: {} as Record<string, string> };
  for (const f of readFields(buf)) {
    if (f.field === 1) p.id = asString(f);
    else if (f.field === 2) p.name = asString(f);
    else if (f.field === 3) p.uid = asString(f);
    else if (f.field === 4) p.namespace = asString(f);
    else if (f.field === 5) {
      const [k, v] = asMapEntry(f);
      p.labels[k] = v;
    } else if (f.field === 6) {
      const [k, v] = asMapEntry(f);
      p.annotations[k] = v;
    }
  }
  return p;
}

export function decodeContainer(buf: Uint8Array): Container {
  const c: Container = { id: "", podSandboxId: "", name: "", labels: {}, annotations: {}, mounts: [] };
  for (const f of readFields(buf)) {
    if (f.field === 1) c.id = asString(f);
    else if (f.field === 2) c.podSandboxId = asString(f);
    else if (f.field === 3) c.name = asString(f);
    else if (f.field === 5) {
      const [k, v] = asMapEntry(f);
      c.labels[k] = v;
    } else if (f.field === 6) {
      const [k, v] = asMapEntry(f);
      c.annotations[k] = v;
    } else if (f.field === 9) c.mounts.push(decodeMount(f));
    else if (f.field === 11) c.namespaces = [...(c.namespaces ?? []), ...decodeNamespaces(f)];
  }
  return c;
}

export function decodeCreateContainerRequest(buf: Uint8Array): CreateContainerRequest {
  let pod: PodSandbox | undefined;
  let container: Container | undefined;
  for (const f of readFields(buf)) {
    if (f.field === 1) pod = decodePodSandbox(asBytes(f));
    else if (f.field === 2) container = decodeContainer(asBytes(f));
  }
  if (!container) throw new Error("CreateContainerRequest without a container");
  return CreateContainerRequestSchema.parse({ pod, container });
}
