// The NRI protocol as procview speaks it: the generated message code checked against an
// independent protobuf implementation (protobufjs reading the vendored .proto files), what
// runtimes of NRI 0.6 to 0.10 send (timeouts or none, split Synchronize, fields from newer
// releases), and the hand-written framing.
import test from "ava";
import path from "node:path";
import protobuf from "protobufjs";
import { create, toBinary } from "@bufbuild/protobuf";
import {
  encodeMuxFrame,
  encodeTtrpcMessage,
  FramingError,
  MuxReader,
  RUNTIME_MESSAGE_MAX,
  TTRPC_HEADER_LENGTH,
  TTRPC_MAX_MESSAGE,
  TtrpcReader,
  TtrpcType,
} from "../../nri/framing.js";
import {
  decodeCreateContainerRequest,
  decodeTtrpcRequest,
  decodeTtrpcResponse,
  encodeCreateContainerResponse,
  encodeRegisterPluginRequest,
  encodeTtrpcRequest,
  encodeTtrpcResponse,
  eventMask,
  EVENTS_EVERY_RUNTIME_KNOWS,
  NriEvent,
  PLUGIN_SERVICE,
  subscription,
} from "../../nri/messages.js";
import {
  ConfigureRequestSchema,
  SynchronizeRequestSchema,
  SynchronizeResponseSchema,
  ContainerSchema,
} from "../../nri/gen/nri/pkg/api/api_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { makeHandler, RuntimeTimeouts } from "../../nri/plugin.js";
import { PACKAGE_ROOT } from "../../core/paths.js";

const PROTO_DIR = path.join(PACKAGE_ROOT, "nri", "proto");

async function load(file: string): Promise<protobuf.Root> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  return root.load(file, { keepCase: true });
}
const nri = load("nri/pkg/api/api.proto");
const T = async (name: string): Promise<protobuf.Type> => (await nri).lookupType(`nri.pkg.api.v1alpha1.${name}`);

test("RegisterPluginRequest and CreateContainerResponse read the same in protobufjs", async (t) => {
  t.deepEqual((await T("RegisterPluginRequest")).decode(encodeRegisterPluginRequest("procview", "10")).toJSON(), {
    plugin_name: "procview",
    plugin_idx: "10",
  });
  const mounts = [{ destination: "/proc/meminfo", type: "bind", source: "/var/lib/procview/proc/meminfo", options: ["bind", "ro"] }];
  t.deepEqual((await T("CreateContainerResponse")).decode(encodeCreateContainerResponse(mounts)).toJSON(), { adjust: { mounts } });
  t.deepEqual((await T("CreateContainerResponse")).decode(encodeCreateContainerResponse([])).toJSON(), {});
});

test("a CreateContainerRequest from protobufjs decodes to what the decisions read; a container without linux has no namespaces", async (t) => {
  const Ccr = await T("CreateContainerRequest");
  const value = {
    pod: { id: "p1", name: "web", uid: "u1", namespace: "default", annotations: { a: "b" }, labels: { l: "v" } },
    container: {
      id: "c1",
      pod_sandbox_id: "p1",
      name: "app",
      annotations: { "io.procview.disable": "true" },
      mounts: [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] }],
      linux: { namespaces: [{ type: "pid" }, { type: "mount", path: "" }], oom_score_adj: { value: -998 } },
    },
  };
  const got = decodeCreateContainerRequest(Ccr.encode(Ccr.fromObject(value)).finish());
  t.deepEqual(got.pod, { id: "p1", name: "web", uid: "u1", namespace: "default", annotations: { a: "b" }, labels: { l: "v" } });
  t.deepEqual(got.container.namespaces, [
    { type: "pid", path: "" },
    { type: "mount", path: "" },
  ]);
  t.deepEqual(got.container.mounts, [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] }]);
  t.is(decodeCreateContainerRequest(Ccr.encode(Ccr.fromObject({ container: { id: "c" } })).finish()).container.namespaces, undefined);
  t.throws(() => decodeCreateContainerRequest(new Uint8Array()), { message: /without a container/ });
});

test("fields from newer NRI releases are skipped: a Container with unknown fields decodes as without them", (t) => {
  const c = create(ContainerSchema, { id: "c1", name: "app", annotations: { k: "v" } });
  const known = toBinary(ContainerSchema, c);
  // field 90 varint 300, field 91 "abc" inside the container; field 92 varint 1 beside it
  const tagged = Buffer.concat([Buffer.from(known), Buffer.from([0xd0, 0x05, 0xac, 0x02]), Buffer.from([0xda, 0x05, 3, 0x61, 0x62, 0x63])]);
  t.true(tagged.length < 128);
  const req = Buffer.concat([Buffer.from([0x12, tagged.length]), tagged, Buffer.from([0xe0, 0x05, 0x01])]);
  const got = decodeCreateContainerRequest(req);
  t.is(got.container.id, "c1");
  t.deepEqual(got.container.annotations, { k: "v" });
});

test("the subscription holds only events every runtime knows (NRI 0.6's 1..11), whatever is asked", (t) => {
  t.is(subscription([NriEvent.CREATE_CONTAINER]), 0x8); // bit (CREATE_CONTAINER - 1), as pkg/api/event.go EventMask.Set
  t.is(eventMask(NriEvent.RUN_POD_SANDBOX, NriEvent.REMOVE_CONTAINER), 0b100_0000_0001);
  t.is(EVENTS_EVERY_RUNTIME_KNOWS.size, 11);
  const newer = [12, 13, 14, 15] as NriEvent[]; // LAST in NRI 0.6-0.8, events of later releases
  t.is(subscription([NriEvent.CREATE_CONTAINER, NriEvent.LAST, NriEvent.UNKNOWN, ...newer]), 0x8);
});

function handlerWithLog(): { handler: ReturnType<typeof makeHandler>; lines: string[]; timeouts: RuntimeTimeouts } {
  const lines: string[] = [];
  const timeouts = new RuntimeTimeouts();
  const opts = {
    socket: "",
    pluginName: "procview",
    pluginIdx: "10",
    source: "/x",
    runtimeDir: "/x-run",
    probeTimeoutMs: 800,
    retryMs: 10,
    log: (l: string) => lines.push(l),
  };
  return { handler: makeHandler(opts, undefined, timeouts), lines, timeouts };
}
const call = (method: string, payload: Uint8Array) => decodeTtrpcRequest(encodeTtrpcRequest({ service: PLUGIN_SERVICE, method, payload }));

test("Configure: the runtime's timeouts when it sends them (NRI >= 0.7), NRI's defaults when not (0.6); subscribes to CreateContainer", async (t) => {
  const { handler, lines, timeouts } = handlerWithLog();
  const old = await handler(
    call(
      "Configure",
      toBinary(ConfigureRequestSchema, create(ConfigureRequestSchema, { runtimeName: "containerd", runtimeVersion: "1.7.24" })),
    ),
  );
  t.deepEqual((await T("ConfigureResponse")).decode(old).toJSON(), { events: 8 });
  t.is(timeouts.requestMs, 2000);
  t.is(timeouts.registrationMs, 5000);
  t.is(timeouts.probeMs(800), 800);
  t.regex(
    lines.at(-1)!,
    /containerd 1\.7\.24 \(request timeout 2000 ms, registration timeout 5000 ms \(NRI's defaults: the runtime sent none\); health check deadline 800 ms\)/,
  );
  await handler(
    call(
      "Configure",
      toBinary(
        ConfigureRequestSchema,
        create(ConfigureRequestSchema, {
          runtimeName: "containerd",
          runtimeVersion: "2.1.9",
          registrationTimeout: 9000n,
          requestTimeout: 1000n,
        }),
      ),
    ),
  );
  t.is(timeouts.registrationMs, 9000);
  t.is(timeouts.requestMs, 1000);
  t.is(timeouts.probeMs(800), 400, "the health check stays within the runtime's budget");
  t.regex(lines.at(-1)!, /request timeout 1000 ms, registration timeout 9000 ms; health check deadline 400 ms/);
});

test("split Synchronize: every part with more = true is answered more = true and no updates; one line for the whole sync", async (t) => {
  const { handler, lines } = handlerWithLog();
  const part = (pods: number, containers: number, more: boolean): Uint8Array =>
    toBinary(
      SynchronizeRequestSchema,
      create(SynchronizeRequestSchema, {
        pods: Array.from({ length: pods }, (_, i) => ({ id: `p${i}` })),
        containers: Array.from({ length: containers }, (_, i) => ({ id: `c${i}`, annotations: { big: "x".repeat(1000) } })),
        more,
      }),
    );
  for (const [pods, ctrs] of [
    [4, 3],
    [0, 3],
  ]) {
    const r = fromBinary(SynchronizeResponseSchema, await handler(call("Synchronize", part(pods!, ctrs!, true))));
    t.true(r.more);
    t.is(r.update.length, 0);
  }
  t.is(lines.length, 0, "nothing logged before the last part");
  const last = fromBinary(SynchronizeResponseSchema, await handler(call("Synchronize", part(1, 4, false))));
  t.false(last.more);
  t.is(last.update.length, 0);
  t.is(lines.length, 1);
  t.regex(lines[0]!, /^synchronized: the runtime has 5 pods and 10 containers \(\d+ bytes in 3 parts;/);
  // An unsplit sync (NRI 0.6, or a small node): one part, counted afresh.
  await handler(call("Synchronize", part(2, 2, false)));
  t.regex(lines[1]!, /^synchronized: the runtime has 2 pods and 2 containers \(\d+ bytes;/);
});

test("ttrpc envelope: request fields, an error status with its message, a negative code", async (t) => {
  const req = decodeTtrpcRequest(
    encodeTtrpcRequest({ service: "s", method: "m", payload: Buffer.from("xy"), timeoutNano: 2_000_000_000n }),
  );
  t.is(req.service, "s");
  t.is(req.method, "m");
  t.is(Buffer.from(req.payload).toString(), "xy");
  t.is(req.timeoutNano, 2_000_000_000n);
  t.deepEqual(decodeTtrpcResponse(encodeTtrpcResponse({ code: 12, message: "nope" })).status, { code: 12, message: "nope" });
  const ok = decodeTtrpcResponse(encodeTtrpcResponse({ payload: Buffer.from("p") }));
  t.deepEqual(ok.status, { code: 0, message: "" });
  t.is(Buffer.from(ok.payload).toString(), "p");
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  const Res = (await root.load("ttrpc/request.proto", { keepCase: true })).lookupType("ttrpc.Response");
  t.is(decodeTtrpcResponse(Res.encode(Res.fromObject({ status: { code: -5, message: "m" } })).finish()).status.code, -5);
});

test("mux frames: 8-byte header (conn id, length), reassembled across arbitrary chunk boundaries", (t) => {
  const a = encodeMuxFrame(1, Buffer.from("hello"));
  t.deepEqual([...a.subarray(0, 8)], [0, 0, 0, 1, 0, 0, 0, 5]);
  const b = encodeMuxFrame(2, Buffer.alloc(0));
  const c = encodeMuxFrame(2, Buffer.alloc(70_000, 7));
  const all = Buffer.concat([a, b, c]);
  for (const step of [1, 3, 8, 13, 4096, all.length]) {
    const r = new MuxReader();
    const got = [];
    for (let i = 0; i < all.length; i += step) got.push(...r.push(all.subarray(i, i + step)));
    t.deepEqual(
      got.map((f) => [f.connId, f.payload.length]),
      [
        [1, 5],
        [2, 0],
        [2, 70_000],
      ],
    );
    t.is(r.pending, 0);
  }
  const huge = Buffer.from([0, 0, 0, 1, 0x02, 0, 0, 0]); // 32 MiB announced
  t.throws(() => new MuxReader().push(huge), { instanceOf: FramingError });
});

test("ttrpc messages: 10-byte header; one message may span mux frames; the runtime's may pass 4 MiB (NRI 0.6 sends Synchronize whole)", (t) => {
  const m = encodeTtrpcMessage({ streamId: 3, type: TtrpcType.RESPONSE, flags: 0, payload: Buffer.from("abc") });
  t.is(TTRPC_HEADER_LENGTH, 10);
  t.deepEqual([...m.subarray(0, 10)], [0, 0, 0, 3, 0, 0, 0, 3, 2, 0]);
  const r = new TtrpcReader();
  t.deepEqual(r.push(m.subarray(0, 4)), []);
  t.deepEqual(r.push(m.subarray(4, 11)), []);
  const [msg] = r.push(m.subarray(11));
  t.deepEqual({ ...msg!, payload: Buffer.from(msg!.payload).toString() }, { streamId: 3, type: 2, flags: 0, payload: "abc" });
  t.throws(() => new TtrpcReader().push(Buffer.from([0, 0x50, 0, 0, 0, 0, 0, 1, 1, 0])), { message: /more than the 4194304 allowed/ });
  t.throws(() => encodeTtrpcMessage({ streamId: 1, type: 1, flags: 0, payload: Buffer.alloc(TTRPC_MAX_MESSAGE + 1) }), {
    instanceOf: FramingError,
  });
  // 6 MiB from the runtime, in 64 KiB chunks as a socket delivers it.
  const big = Buffer.alloc(6 << 20, 1);
  const hdr = Buffer.alloc(TTRPC_HEADER_LENGTH);
  hdr.writeUInt32BE(big.length, 0);
  hdr.writeUInt32BE(5, 4);
  hdr.writeUInt8(TtrpcType.REQUEST, 8);
  const wire = Buffer.concat([hdr, big]);
  const reader = new TtrpcReader(RUNTIME_MESSAGE_MAX);
  const got = [];
  for (let i = 0; i < wire.length; i += 65536) got.push(...reader.push(wire.subarray(i, i + 65536)));
  t.is(got.length, 1);
  t.is(got[0]!.payload.length, 6 << 20);
  t.is(got[0]!.streamId, 5);
});
