// The messages procview exchanges with a runtime over NRI, on top of the code protoc-gen-es
// generates (nri/gen/, by `npm run generate`) from the .proto files vendored in nri/proto/:
// NRI's api.proto (package nri.pkg.api.v1alpha1, the one package every NRI release from 0.6
// to 0.10 speaks) and ttrpc's request envelope.
//
// Why generated code from @bufbuild/protobuf + protoc-gen-es: it is the maintained, fully
// conformant protobuf implementation for TypeScript; its messages are plain typed objects
// (no classes to wrap), it reads and writes proto3 exactly as Go does, and it skips fields
// it does not know, which is what lets one plugin talk to runtimes older and newer than its
// .proto files. Its generator, like buf that drives it, comes from the npm registry, so the
// build needs neither protoc nor the network. The binary decoder is the check on what the
// runtime sends: every field it yields has the type its schema says (the role zod plays
// for JSON input elsewhere).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ConfigureRequestSchema,
  ConfigureResponseSchema,
  ContainerAdjustmentSchema,
  CreateContainerRequestSchema,
  CreateContainerResponseSchema,
  EmptySchema,
  Event,
  MountSchema,
  Plugin,
  RegisterPluginRequestSchema,
  Runtime,
  SynchronizeRequestSchema,
  SynchronizeResponseSchema,
  type ConfigureRequest,
  type CreateContainerRequest as WireCreateContainerRequest,
  type SynchronizeRequest,
} from "./gen/nri/pkg/api/api_pb.js";
import { RequestSchema, ResponseSchema, type Request as TtrpcRequest } from "./gen/ttrpc/request_pb.js";
import { StatusSchema } from "./gen/google/rpc/status_pb.js";

export { Event as NriEvent, type ConfigureRequest, type SynchronizeRequest, type TtrpcRequest };

export const RUNTIME_SERVICE = Runtime.typeName;
export const PLUGIN_SERVICE = Plugin.typeName;

/** A subscription is a mask with bit (event - 1) set per event (NRI pkg/api/event.go). */
export const eventMask = (...events: readonly Event[]): number => events.reduce((m, e) => m | (1 << (e - 1)), 0);

/**
 * The events every runtime procview speaks to knows: NRI 0.6 (containerd 1.7) defines 1 to 11,
 * and a runtime refuses a subscription with a bit it does not know ("invalid plugin events")
 * and drops the plugin. Events added by later NRI releases are not in this set, so a newer
 * .proto can never make the plugin ask an older runtime for them.
 */
export const EVENTS_EVERY_RUNTIME_KNOWS: ReadonlySet<Event> = new Set(
  Object.values(Event).filter((e): e is Event => typeof e === "number" && e >= Event.RUN_POD_SANDBOX && e <= Event.REMOVE_CONTAINER),
);

/** The subscription to send: the events wanted that the runtime knows (see EVENTS_EVERY_RUNTIME_KNOWS). */
export function subscription(wanted: readonly Event[]): number {
  return eventMask(...wanted.filter((e) => EVENTS_EVERY_RUNTIME_KNOWS.has(e)));
}

/** gRPC status codes used in ttrpc responses. */
export const Code = { OK: 0, INVALID_ARGUMENT: 3, UNIMPLEMENTED: 12, INTERNAL: 13 } as const;

// ---- ttrpc envelope ----

export function encodeTtrpcRequest(req: { service: string; method: string; payload: Uint8Array; timeoutNano?: bigint }): Uint8Array {
  return toBinary(RequestSchema, create(RequestSchema, { ...req, timeoutNano: req.timeoutNano ?? 0n }));
}

export const decodeTtrpcRequest = (buf: Uint8Array): TtrpcRequest => fromBinary(RequestSchema, buf);

export function encodeTtrpcResponse(res: { code?: number; message?: string; payload?: Uint8Array }): Uint8Array {
  return toBinary(
    ResponseSchema,
    create(ResponseSchema, {
      status: res.code ? create(StatusSchema, { code: res.code, message: res.message ?? "" }) : undefined,
      payload: res.payload ?? new Uint8Array(),
    }),
  );
}

export interface TtrpcResponse {
  status: { code: number; message: string };
  payload: Uint8Array;
}

export function decodeTtrpcResponse(buf: Uint8Array): TtrpcResponse {
  const r = fromBinary(ResponseSchema, buf);
  return { status: { code: r.status?.code ?? Code.OK, message: r.status?.message ?? "" }, payload: r.payload };
}

// ---- NRI: what the plugin sends ----

export const encodeRegisterPluginRequest = (pluginName: string, pluginIdx: string): Uint8Array =>
  toBinary(RegisterPluginRequestSchema, create(RegisterPluginRequestSchema, { pluginName, pluginIdx }));

export const encodeConfigureResponse = (events: number): Uint8Array =>
  toBinary(ConfigureResponseSchema, create(ConfigureResponseSchema, { events }));

export const encodeEmpty = (): Uint8Array => toBinary(EmptySchema, create(EmptySchema));

/** SynchronizeResponse without updates; `more` echoes a part that announced more to follow. */
export const encodeSynchronizeResponse = (more: boolean): Uint8Array =>
  toBinary(SynchronizeResponseSchema, create(SynchronizeResponseSchema, { more }));

export interface NriMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** CreateContainerResponse{adjust: ContainerAdjustment{mounts}}; no adjustment at all when there is nothing to add. */
export function encodeCreateContainerResponse(mounts: readonly NriMount[]): Uint8Array {
  return toBinary(
    CreateContainerResponseSchema,
    create(CreateContainerResponseSchema, {
      adjust: mounts.length ? create(ContainerAdjustmentSchema, { mounts: mounts.map((m) => create(MountSchema, m)) }) : undefined,
    }),
  );
}

// ---- NRI: what the runtime sends ----

export const decodeConfigureRequest = (buf: Uint8Array): ConfigureRequest => fromBinary(ConfigureRequestSchema, buf);
export const decodeSynchronizeRequest = (buf: Uint8Array): SynchronizeRequest => fromBinary(SynchronizeRequestSchema, buf);

/** The parts of a CreateContainer request the plugin's decisions read. */
export interface CreateContainerRequest {
  pod?: { id: string; name: string; uid: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  container: {
    id: string;
    podSandboxId: string;
    name: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    mounts: NriMount[];
    /** linux.namespaces; undefined when the runtime sent no linux part at all. */
    namespaces?: { type: string; path: string }[];
    /** linux.cgroupsPath, as the runtime will create the container's cgroup; "" when not sent. */
    cgroupsPath: string;
  };
}

function fromWire(req: WireCreateContainerRequest): CreateContainerRequest {
  const c = req.container;
  if (!c) throw new Error("CreateContainerRequest without a container");
  const p = req.pod;
  return {
    pod: p && { id: p.id, name: p.name, uid: p.uid, namespace: p.namespace, labels: { ...p.labels }, annotations: { ...p.annotations } },
    container: {
      id: c.id,
      podSandboxId: c.podSandboxId,
      name: c.name,
      labels: { ...c.labels },
      annotations: { ...c.annotations },
      mounts: c.mounts.map((m) => ({ destination: m.destination, type: m.type, source: m.source, options: [...m.options] })),
      namespaces: c.linux?.namespaces.map((n) => ({ type: n.type, path: n.path })),
      cgroupsPath: c.linux?.cgroupsPath ?? "",
    },
  };
}

export const decodeCreateContainerRequest = (buf: Uint8Array): CreateContainerRequest =>
  fromWire(fromBinary(CreateContainerRequestSchema, buf));
