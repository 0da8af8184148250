// The hand-written codec against the real .proto files (Debian's
// golang-github-containerd-nri-dev and golang-github-containerd-ttrpc-dev,
// installed by test/support/system-deps.ts), both directions, through protobufjs.
import test from "ava";
import { existsSync } from "node:fs";
import protobuf from "protobufjs";
import {
  encodeMuxFrame,
  encodeTtrpcMessage,
  FramingError,
  MuxReader,
  TTRPC_HEADER_LENGTH,
  TtrpcReader,
  TtrpcType,
} from "../../nri/framing.js";
import {
  decodeConfigureRequest,
  decodeCreateContainerRequest,
  decodeTtrpcRequest,
  decodeTtrpcResponse,
  encodeConfigureResponse,
  encodeCreateContainerResponse,
  encodeRegisterPluginRequest,
  encodeTtrpcRequest,
  encodeTtrpcResponse,
  eventMask,
  NriEvent,
} from "../../nri/messages.js";
import { ProtoWriter, readFields } from "../../nri/protobuf.js";

const NRI_PROTO = "/usr/share/gocode/src/github.com/containerd/nri/pkg/api/api.proto";
const TTRPC_PROTO = "/usr/share/gocode/src/github.com/containerd/ttrpc/request.proto";

async function load(file: string): Promise<protobuf.Root> {
  if (!existsSync(file))
    throw new Error(
      `${file} is missing: install golang-github-containerd-nri-dev and golang-github-containerd-ttrpc-dev (trixie), as npm test's system-deps step does`,
    );
  const root = new protobuf.Root();
  // request.proto imports "proto/status.proto" relative to the ttrpc source dir.
  root.resolvePath = (origin, target) => (target.startsWith("/") ? target : protobuf.util.path.resolve(origin, target));
  return root.load(file, { keepCase: true });
}

const nri = load(NRI_PROTO);
const ttrpc = load(TTRPC_PROTO);
const T = async (name: string): Promise<protobuf.Type> => (await nri).lookupType(`nri.pkg.api.v1alpha1.${name}`);

test("RegisterPluginRequest and ConfigureResponse decode with the real api.proto", async (t) => {
  const reg = (await T("RegisterPluginRequest")).decode(encodeRegisterPluginRequest("procview", "10")).toJSON();
  t.deepEqual(reg, { plugin_name: "procview", plugin_idx: "10" });
  const conf = (await T("ConfigureResponse")).decode(encodeConfigureResponse(eventMask(NriEvent.CREATE_CONTAINER))).toJSON();
  t.deepEqual(conf, { events: 8 }); // bit (CREATE_CONTAINER - 1), as pkg/api/event.go EventMask.Set
  t.is(eventMask(NriEvent.RUN_POD_SANDBOX, NriEvent.REMOVE_CONTAINER), 0b100_0000_0001);
});

test("CreateContainerResponse carries the mounts in ContainerAdjustment.mounts", async (t) => {
  const mounts = [
    { destination: "/proc/meminfo", type: "bind", source: "/var/lib/procview/proc/meminfo", options: ["bind", "ro"] },
    {
      destination: "/sys/devices/system/cpu/online",
      type: "bind",
      source: "/var/lib/procview/sys/devices/system/cpu/online",
      options: ["bind", "ro", "nosuid"],
    },
  ];
  const msg = (await T("CreateContainerResponse")).decode(encodeCreateContainerResponse(mounts)).toJSON();
  t.deepEqual(msg, { adjust: { mounts } });
  t.deepEqual((await T("CreateContainerResponse")).decode(encodeCreateContainerResponse([])).toJSON(), {});
});

test("CreateContainerRequest and ConfigureRequest encoded by protobufjs decode to the same values", async (t) => {
  const Ccr = await T("CreateContainerRequest");
  const value = {
    pod: { id: "p1", name: "web", uid: "u1", namespace: "default", annotations: { a: "b" }, labels: { l: "v" } },
    container: {
      id: "c1",
      pod_sandbox_id: "p1",
      name: "app",
      state: 1,
      annotations: { "io.procview.disable": "true", x: "y" },
      labels: { k: "v" },
      args: ["sh"],
      env: ["A=1"],
      mounts: [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec"] }],
      linux: {
        namespaces: [{ type: "pid" }, { type: "mount", path: "" }, { type: "network", path: "/proc/1/ns/net" }],
        resources: { memory: { limit: { value: 268435456 } }, cpu: { quota: { value: -1 } } },
        oom_score_adj: { value: -998 },
        cgroups_path: "/k8s/c1",
      },
      pid: 42,
    },
  };
  const buf = Ccr.encode(Ccr.fromObject(value)).finish();
  const got = decodeCreateContainerRequest(Buffer.from(buf));
  t.deepEqual(got.pod, { id: "p1", name: "web", uid: "u1", namespace: "default", annotations: { a: "b" }, labels: { l: "v" } });
  t.deepEqual(got.container, {
    id: "c1",
    podSandboxId: "p1",
    name: "app",
    annotations: { "io.procview.disable": "true", x: "y" },
    labels: { k: "v" },
    mounts: [{ destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec"] }],
    namespaces: [
      { type: "pid", path: "" },
      { type: "mount", path: "" },
      { type: "network", path: "/proc/1/ns/net" },
    ],
  });
  const Cr = await T("ConfigureRequest");
  const cfg = Cr.encode(Cr.fromObject({ config: "x", runtime_name: "containerd", runtime_version: "1.7.24" })).finish();
  t.deepEqual(decodeConfigureRequest(Buffer.from(cfg)), { config: "x", runtimeName: "containerd", runtimeVersion: "1.7.24" });
});

test("a container without a linux part has no namespaces (planViews then treats it as sharing the host mount namespace)", async (t) => {
  const Ccr = await T("CreateContainerRequest");
  const buf = Ccr.encode(Ccr.fromObject({ container: { id: "c", name: "n" } })).finish();
  t.is(decodeCreateContainerRequest(Buffer.from(buf)).container.namespaces, undefined);
  t.throws(() => decodeCreateContainerRequest(Buffer.alloc(0)), { message: /without a container/ });
});

test("ttrpc Request/Response round-trip with request.proto, including error status and negative int32", async (t) => {
  const root = await ttrpc;
  const Req = root.lookupType("ttrpc.Request");
  const Res = root.lookupType("ttrpc.Response");
  const mine = encodeTtrpcRequest({
    service: "nri.pkg.api.v1alpha1.Runtime",
    method: "RegisterPlugin",
    payload: Buffer.from([1, 2, 3]),
    timeoutNano: 5_000_000_000n,
  });
  const theirs = Req.toObject(Req.decode(mine), { longs: String, bytes: Array });
  t.deepEqual(theirs, {
    service: "nri.pkg.api.v1alpha1.Runtime",
    method: "RegisterPlugin",
    payload: [1, 2, 3],
    timeout_nano: "5000000000",
  });

  const fromGo = Req.encode(
    Req.fromObject({
      service: "s",
      method: "m",
      payload: Buffer.from("xy"),
      timeout_nano: 2_000_000_000,
      metadata: [{ key: "k", value: "v" }],
    }),
  ).finish();
  const decoded = decodeTtrpcRequest(Buffer.from(fromGo));
  t.is(decoded.service, "s");
  t.is(decoded.method, "m");
  t.is(decoded.payload.toString(), "xy");
  t.is(decoded.timeoutNano, 2_000_000_000n);
  t.deepEqual(decoded.metadata, [["k", "v"]]);

  const ok = Res.toObject(Res.decode(encodeTtrpcResponse({ payload: Buffer.from("p") })), { bytes: String });
  t.deepEqual(ok, { payload: Buffer.from("p").toString("base64") });
  const err = Res.toObject(Res.decode(encodeTtrpcResponse({ code: 12, message: "nope" })));
  t.is((err as { status: { code: number } }).status.code, 12); // Debian's trimmed status.proto has only code; message is google.rpc.Status field 2
  t.deepEqual(decodeTtrpcResponse(encodeTtrpcResponse({ code: 12, message: "nope" })).status, { code: 12, message: "nope" });
  const neg = Res.encode(Res.fromObject({ status: { code: -5 } })).finish();
  t.is(decodeTtrpcResponse(Buffer.from(neg)).status.code, -5);
});

test("protobuf reader: varints, skipping unknown wire types, and loud failures on malformed input", (t) => {
  const buf = new ProtoWriter().int(1, 300).int(2, -1).string(3, "hi").int(4, 0).finish();
  const fields = readFields(buf);
  t.deepEqual(
    fields.map((f) => f.field),
    [1, 2, 3],
  );
  t.is(fields[0]!.value, 300n);
  t.is(fields[1]!.value, 0xffff_ffff_ffff_ffffn);
  // fixed32 and fixed64 fields are read past
  const withFixed = Buffer.concat([
    Buffer.from([(5 << 3) | 5, 1, 2, 3, 4, (6 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8]),
    new ProtoWriter().string(7, "z").finish(),
  ]);
  t.deepEqual(
    readFields(withFixed).map((f) => f.field),
    [5, 6, 7],
  );
  t.throws(() => readFields(Buffer.from([(1 << 3) | 2, 10, 1])), { message: /past the end/ });
  t.throws(() => readFields(Buffer.from([0x08, 0x80])), { message: /truncated varint/ });
  t.throws(() => readFields(Buffer.from([(1 << 3) | 3])), { message: /wire type 3/ });
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

test("ttrpc messages: 10-byte header (length, stream id, type, flags); one message may span mux frames", (t) => {
  const m = encodeTtrpcMessage({ streamId: 3, type: TtrpcType.RESPONSE, flags: 0, payload: Buffer.from("abc") });
  t.is(TTRPC_HEADER_LENGTH, 10);
  t.deepEqual([...m.subarray(0, 10)], [0, 0, 0, 3, 0, 0, 0, 3, 2, 0]);
  const r = new TtrpcReader();
  t.deepEqual(r.push(m.subarray(0, 4)), []);
  t.deepEqual(r.push(m.subarray(4, 11)), []);
  const [msg] = r.push(m.subarray(11));
  t.deepEqual({ ...msg!, payload: msg!.payload.toString() }, { streamId: 3, type: 2, flags: 0, payload: "abc" });
  t.throws(() => new TtrpcReader().push(Buffer.from([0, 0x50, 0, 0, 0, 0, 0, 1, 1, 0])), { message: /more than the 4194304 allowed/ });
});
