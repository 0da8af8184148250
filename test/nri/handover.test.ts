// Two procview NRI plugins registered with one runtime at once, as during a Kubernetes rolling
// update (the new pod's plugin registers before the old pod's leaves): every container gets
// each view exactly once, from whichever plugin NRI calls first, and NRI never sees two plugins
// set one mount. The plugins are the real handlers, over the wire encoding; NRI's merge of their
// answers is support/nri-adaptation.ts. The same is run live against both containerd lines
// (support/containerd-suite.ts) and during a pod replacement (test/k8s/).
import test from "ava";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ContainerSchema,
  CreateContainerRequestSchema,
  CreateContainerResponseSchema,
  LinuxContainerSchema,
  LinuxNamespaceSchema,
  MountSchema,
  PodSandboxSchema,
  type CreateContainerRequest,
} from "../../nri/gen/nri/pkg/api/api_pb.js";
import { boundByAnotherPlugin, makeHandler } from "../../nri/plugin.js";
import { NriConnection } from "../../nri/connection.js";
import {
  decodeCreateContainerRequest,
  decodeTtrpcRequest,
  decodeTtrpcResponse,
  encodeCreateContainerResponse,
  encodeTtrpcRequest,
  PLUGIN_SERVICE,
} from "../../nri/messages.js";
import { encodeMuxFrame, encodeTtrpcMessage, MuxReader, PLUGIN_SERVICE_CONN, TtrpcReader, TtrpcType } from "../../nri/framing.js";
import { containerDir, VIEW_FILES } from "../../core/layout.js";
import { RUNC_PROC_MOUNTS } from "../../plan/plan.js";
import { adaptCreateContainer, type AdaptedPlugin } from "./support/nri-adaptation.js";

/** The targets runc lets a spec mount: what a container gets. */
const BOUND = VIEW_FILES.map((f) => `/${f}`).filter((f) => !f.startsWith("/proc/") || RUNC_PROC_MOUNTS.has(f));

/** An LXCFS-layout source on disk, with a copy of its own for the containers named. */
function sourceDir(ownCopies: string[]): string {
  const source = mkdtempSync(path.join(tmpdir(), "procview-handover-"));
  for (const dir of [source, ...ownCopies.map((id) => containerDir(source, id))])
    for (const f of VIEW_FILES) {
      mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
      writeFileSync(path.join(dir, f), "MemTotal: 1 kB\n");
    }
  return source;
}

function request(id: string): CreateContainerRequest {
  return create(CreateContainerRequestSchema, {
    pod: create(PodSandboxSchema, { id: `pod-${id}`, name: `pod-${id}`, namespace: "default" }),
    container: create(ContainerSchema, {
      id,
      podSandboxId: `pod-${id}`,
      name: "app",
      mounts: [
        create(MountSchema, { destination: "/proc", type: "proc", source: "proc", options: ["nosuid"] }),
        create(MountSchema, { destination: "/sys", type: "sysfs", source: "sysfs", options: ["ro"] }),
      ],
      linux: create(LinuxContainerSchema, {
        namespaces: [create(LinuxNamespaceSchema, { type: "pid" }), create(LinuxNamespaceSchema, { type: "mount" })],
      }),
    }),
  });
}

interface Plugin extends AdaptedPlugin {
  lines: string[];
}

/** A procview plugin as the runtime sees it: its CreateContainer handler, with a healthy source. */
function procviewPlugin(name: string, source: string): Plugin {
  const lines: string[] = [];
  const handler = makeHandler(
    {
      socket: "",
      pluginName: "procview",
      pluginIdx: "10",
      source,
      // Registrations, if any, go to a directory of this test's own.
      runtimeDir: mkdtempSync(path.join(tmpdir(), "procview-handover-run-")),
      probeTimeoutMs: 800,
      retryMs: 10,
      log: (l) => lines.push(l),
    },
    () => Promise.resolve({ ok: true }),
  );
  return {
    name,
    lines,
    createContainer: (payload) =>
      handler(decodeTtrpcRequest(encodeTtrpcRequest({ service: PLUGIN_SERVICE, method: "CreateContainer", payload }))),
  };
}

test("two procview plugins registered at once: each container gets each view exactly once, from the one NRI calls first; the other adds nothing and says so", async (t) => {
  // Half the containers have a copy of their own under containers/<id>/, as procview serves them.
  const source = sourceDir(["own-a1", "own-a2", "own-b1", "own-b2"]);
  const oldPlugin = procviewPlugin("10-procview (old pod)", source);
  const newPlugin = procviewPlugin("10-procview (new pod)", source);
  // NRI orders plugins by index only: two of index 10 come in either order.
  for (const [first, second, ids] of [
    [oldPlugin, newPlugin, ["own-a1", "shared-a1", "own-a2", "shared-a2"]],
    [newPlugin, oldPlugin, ["own-b1", "shared-b1", "own-b2", "shared-b2"]],
  ] as const)
    for (const id of ids) {
      const adapted = await adaptCreateContainer([first, second], request(id));
      if (!adapted.ok) return t.fail(`${id}: ${adapted.error}`);
      t.deepEqual(adapted.mounts.map((m) => m.destination).sort(), [...BOUND].sort(), `${id}: every view, once`);
      t.true(
        adapted.mounts.every((m) => m.plugin === first.name),
        `${id}: all from the plugin called first`,
      );
      const from = id.startsWith("own") ? containerDir(source, id) : source;
      t.true(
        adapted.mounts.every((m) => m.source === path.join(from, m.destination)),
        `${id}: from the container's own copy when it has one`,
      );
      t.regex(first.lines.at(-1)!, new RegExp(`pod-${id}/app: 9 views`));
      t.regex(
        second.lines.at(-1)!,
        new RegExp(`pod-${id}/app: nothing to add: another procview plugin, called before this one, bound 9 views`),
      );
    }
});

test("the merge refuses what NRI refuses: a plugin that added its views without looking at the request would fail every container it shares", async (t) => {
  const source = sourceDir([]);
  const careful = procviewPlugin("10-procview", source);
  const blind = procviewPlugin("10-blind", source);
  // The blind one decides on the request as the runtime first made it, not as NRI hands it on.
  const pristine: AdaptedPlugin = { name: blind.name, createContainer: () => blind.createContainer(toPayload(request("c1"))) };
  const adapted = await adaptCreateContainer([careful, pristine], request("c1"));
  t.false(adapted.ok);
  t.regex(adapted.ok ? "" : adapted.error, /^plugins "10-blind" and "10-procview" both tried to set mount \/proc\/meminfo$/);
});

test("the plugin NRI calls first leaves before it answers (its pod stopped): NRI drops it and the next one binds the views", async (t) => {
  const source = sourceDir([]);
  const leaving: AdaptedPlugin = { name: "10-procview (old pod)", createContainer: () => Promise.resolve("gone") };
  const staying = procviewPlugin("10-procview (new pod)", source);
  const adapted = await adaptCreateContainer([leaving, staying], request("c1"));
  if (!adapted.ok) return t.fail(adapted.error);
  t.deepEqual(adapted.dropped, [leaving.name]);
  t.is(adapted.mounts.length, BOUND.length);
  t.true(adapted.mounts.every((m) => m.plugin === staying.name));
});

test("beside an older procview plugin that binds fewer files, the other adds only the rest: none twice", async (t) => {
  const source = sourceDir([]);
  const full = procviewPlugin("10-procview (new pod)", source);
  const older = procviewPlugin("10-procview (old pod)", source);
  const withoutSlabinfo: AdaptedPlugin = {
    name: older.name,
    async createContainer(payload) {
      const answer = await older.createContainer(payload);
      if (answer === "gone") return answer;
      const mounts = fromBinary(CreateContainerResponseSchema, answer).adjust?.mounts ?? [];
      return encodeCreateContainerResponse(mounts.filter((m) => m.destination !== "/proc/slabinfo"));
    },
  };
  const adapted = await adaptCreateContainer([withoutSlabinfo, full], request("c1"));
  if (!adapted.ok) return t.fail(adapted.error);
  t.deepEqual(
    adapted.mounts.filter((m) => m.plugin === full.name).map((m) => m.destination),
    ["/proc/slabinfo"],
  );
  t.is(adapted.mounts.length, BOUND.length);
  t.regex(
    full.lines.at(-1)!,
    /1 views \(\/proc\/slabinfo\); .*skipped \/proc\/meminfo: bound by another procview plugin, called before this one/,
  );
});

test("a bind at a target from anywhere else (the container's own hostPath, another source) is no other plugin's: it is left alone as before", (t) => {
  const req = decodeCreateContainerRequest(toPayload(request("c1")));
  req.container.mounts.push(
    { destination: "/proc/meminfo", type: "bind", source: "/var/lib/procview/proc/meminfo", options: ["ro"] },
    { destination: "/proc/cpuinfo/", type: "bind", source: "/var/lib/procview/containers/c1/proc/cpuinfo", options: ["ro"] },
    { destination: "/proc/stat", type: "bind", source: "/etc/my-stat", options: ["ro"] },
    { destination: "/proc/uptime", type: "bind", source: "/var/lib/lxcfs/proc/uptime", options: ["ro"] },
    { destination: "/proc/loadavg", type: "bind", source: "/var/lib/procview/containers/c2/proc/loadavg", options: ["ro"] },
  );
  t.deepEqual([...boundByAnotherPlugin(req, "/var/lib/procview")].sort(), ["/proc/cpuinfo", "/proc/meminfo"]);
  t.deepEqual([...boundByAnotherPlugin(req, "/var/lib/lxcfs")], ["/proc/uptime"]);
});

test("told to stop, a plugin answers the requests under way, then leaves: the runtime reads the answers, then the end; nothing later is taken on", async (t) => {
  const address = path.join(mkdtempSync(path.join(tmpdir(), "procview-finish-")), "nri.sock");
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let calls = 0;
  // Half-open allowed on the runtime's side, so that it can still send once the plugin has ended.
  const server = net.createServer({ allowHalfOpen: true });
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  await new Promise<void>((resolve) => server.listen(address, resolve));
  const conn = new NriConnection(net.createConnection(address), async () => {
    calls++;
    await gate;
    return encodeCreateContainerResponse([{ destination: "/proc/meminfo", type: "bind", source: "/x/proc/meminfo", options: ["ro"] }]);
  });
  // The runtime's end of the socket.
  const runtime = await accepted;
  server.close();
  const answers: number[] = [];
  let ended = false;
  const mux = new MuxReader();
  const ttrpc = new TtrpcReader(1 << 20);
  runtime.on("data", (chunk: Buffer) => {
    for (const f of mux.push(chunk))
      for (const m of ttrpc.push(f.payload)) {
        t.is(fromBinary(CreateContainerResponseSchema, decodeTtrpcResponse(m.payload).payload).adjust?.mounts.length, 1);
        answers.push(m.streamId);
      }
  });
  const end = new Promise<void>((resolve) => runtime.on("end", () => resolve(void (ended = true))));
  const send = (streamId: number): boolean =>
    runtime.write(
      encodeMuxFrame(
        PLUGIN_SERVICE_CONN,
        encodeTtrpcMessage({
          streamId,
          type: TtrpcType.REQUEST,
          flags: 0,
          payload: encodeTtrpcRequest({ service: PLUGIN_SERVICE, method: "CreateContainer", payload: toPayload(request("c1")) }),
        }),
      ),
    );
  const until = async (what: () => boolean): Promise<void> => {
    while (!what()) await new Promise((r) => setTimeout(r, 5));
  };
  send(1);
  await until(() => calls === 1);
  conn.finish(10_000);
  send(3); // sent before the runtime knows: still answered
  await until(() => calls === 2);
  await new Promise((r) => setTimeout(r, 50));
  t.false(ended, "not while answering");
  t.deepEqual(answers, []);
  release();
  await end;
  t.deepEqual(answers, [1, 3], "both answers before the end");
  send(5);
  runtime.end();
  await conn.closed;
  t.is(calls, 2, "a request after the end is not taken on");
  runtime.destroy();
});

const toPayload = (r: CreateContainerRequest): Uint8Array => toBinary(CreateContainerRequestSchema, r);
