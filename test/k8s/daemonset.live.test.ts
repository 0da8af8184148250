// procview on a Kubernetes node: the image `npm run image` builds, and the DaemonSet's pod of
// deploy/kubernetes/procview.yaml, run by driving containerd 2.x over CRI as kubelet would
// (test/support/kubelet.ts turns the manifest's pod template into kubelet's CRI calls; there is
// no second copy of the spec). The node is a mount namespace of its own in which the paths the
// manifest names (/var/lib/procview, /run/procview, /var/run/nri) are private, so the manifest
// runs exactly as written. Then: a workload pod with nothing procview-specific gets its views;
// the procview pod is replaced while a reader loops in the workload (no read may fail); the
// procview pod is killed abruptly (its views come back). Serial: each test builds on the last.
import test from "ava";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { extract as extractTar, list as listTar } from "tar";
import { Pod, type IPod } from "kubernetes-models/v1";
import { DIST_DIR, PACKAGE_ROOT, imageReference } from "../../core/paths.js";
import { parseMountinfo } from "../../core/mountinfo.js";
import { servedFile } from "../../fuse/keeper/restore.js";
import { rootfsWith } from "../../testbed/rootfs.js";
import { waitFor } from "../../testbed/wait.js";
import { copyInto } from "../../scripts/program-files.js";
import { writeOciImage } from "../../scripts/oci-image.js";
import { CriClient, runPod as runBarePod, startContainer } from "../support/cri.js";
import {
  destroyContainerdDir,
  importImage,
  importTestImage,
  makeContainerdDir,
  startContainerd,
  TEST_IMAGE,
  writeContainerdConfig,
  type ContainerdDirs,
  type RunningContainerd,
} from "../support/containerd.js";
import { nodeNamespace, type NodeNamespace } from "../support/node-namespace.js";
import { loadManifest, podTemplate, type Manifest } from "../support/manifest.js";
import {
  container,
  containerLog,
  killPodProcesses,
  probe,
  restartDeadContainers,
  runPod,
  stopPod,
  waitReady,
  type KubeletNode,
  type RunningPod,
} from "../support/kubelet.js";
import { memTotal, processors } from "../nri/support/containerd-suite.js";

const MiB = 1024 * 1024;
const WORKLOAD_IMAGE = "docker.io/procview/workload:test";
const READER = "/bin/stress-reader";
const VERSION = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

/** The workload: 256 MiB and one CPU, nothing procview-specific. Host networking only because the test node has no network plugin. */
const WORKLOAD: IPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "app", namespace: "default" },
  spec: {
    hostNetwork: true,
    containers: [
      { name: "app", image: WORKLOAD_IMAGE, command: ["/bin/sleep", "86400"], resources: { limits: { memory: "256Mi", cpu: "1" } } },
    ],
  },
};

interface Ctx {
  manifest: Manifest;
  /** The image, the workload's image and the reader are built here. */
  work: string;
  archive: string;
  node: NodeNamespace;
  dirs: ContainerdDirs;
  containerd: RunningContainerd;
  cri: CriClient;
  kubelet: KubeletNode;
  procview: RunningPod;
  workload: RunningPod;
}
const ctx: Partial<Ctx> = {};

function need<K extends keyof Ctx>(...keys: K[]): Pick<Ctx, K> {
  for (const k of keys) if (!ctx[k]) throw new Error(`setup did not get as far as ${k}; see the failures before`);
  return ctx as Pick<Ctx, K>;
}

/** A DaemonSet pod's name: the set's, and a random suffix. */
const podName = (m: Manifest): string => `${m.daemonSet.metadata?.name ?? "procview"}-${randomBytes(3).toString("hex")}`;

async function runProcviewPod(c: Pick<Ctx, "manifest" | "kubelet">): Promise<RunningPod> {
  return runPod(c.kubelet, podTemplate(c.manifest), podName(c.manifest), c.manifest.daemonSet.metadata?.namespace);
}

async function exec(c: Pick<Ctx, "cri">, id: string, cmd: string[], timeoutS = 20): Promise<{ stdout: string; exitCode: number }> {
  const r = await c.cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
    "ExecSync",
    { container_id: id, cmd, timeout: timeoutS },
    (timeoutS + 10) * 1000,
  );
  return { stdout: Buffer.from(r.stdout).toString() + Buffer.from(r.stderr).toString(), exitCode: r.exit_code };
}

interface ReaderResult {
  reads: number;
  errors: number;
  wrong: number;
  maxStallMs: number;
  maxOutageMs: number;
  firstProblem: string;
}

/** The C reader inside the workload, reading meminfo and cpuinfo in a loop until told to stop. */
async function startReader(c: Pick<Ctx, "cri" | "workload">): Promise<{ stop(): Promise<ReaderResult> }> {
  const id = container(c.workload, "app").id;
  const running = exec(c, id, [READER, "600", "/proc/meminfo", "262144", "/proc/cpuinfo", "1"], 620);
  await waitFor("the reader to run", async () => (await exec(c, id, ["pidof", "stress-reader"])).exitCode === 0, { timeoutMs: 20_000 });
  return {
    async stop() {
      await exec(c, id, ["killall", "-TERM", "stress-reader"]);
      const { stdout } = await running;
      const field = (name: string): number => Number(new RegExp(`${name}=(\\d+)`).exec(stdout)?.[1] ?? NaN);
      return {
        reads: field("reads"),
        errors: field("errors"),
        wrong: field("wrong"),
        maxStallMs: field("max_stall_us") / 1000,
        maxOutageMs: field("max_outage_us") / 1000,
        firstProblem: stdout.slice(stdout.indexOf("first_problem=") + "first_problem=".length).trim(),
      };
    },
  };
}

const logLine = (pod: RunningPod, name: string, re: RegExp): { at: number; line: string } | undefined =>
  containerLog(pod, name).find((l) => re.test(l.line));

async function logged(pod: RunningPod, name: string, re: RegExp, timeoutMs = 30_000): Promise<{ at: number; line: string }> {
  try {
    return await waitFor(`${pod.name}/${name} to log ${re}`, () => logLine(pod, name, re), { timeoutMs });
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; its log:\n${containerLog(pod, name)
        .map((l) => l.line)
        .join("\n")}`,
      { cause: err },
    );
  }
}

/** The most memory a container's cgroup held (v1 max_usage_in_bytes, v2 memory.peak). */
async function memoryPeak(c: Pick<Ctx, "cri">, pod: RunningPod, name: string): Promise<string> {
  const r = await c.cri.call<{ info: Record<string, string> }>("ContainerStatus", { container_id: container(pod, name).id, verbose: true });
  const pid = (JSON.parse(r.info.info ?? "{}") as { pid?: number }).pid;
  const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes("memory"))?.split(":")[2];
  const file = v1
    ? `/sys/fs/cgroup/memory${v1}/memory.max_usage_in_bytes`
    : `/sys/fs/cgroup${lines.find((l) => l.startsWith("0::"))?.slice(3)}/memory.peak`;
  const bytes = Number((await readFile(file, "utf8").catch(() => "NaN")).trim());
  return `${(bytes / MiB).toFixed(0)} MiB`;
}

test.before(async (t) => {
  const manifest = loadManifest();
  ctx.manifest = manifest;
  // The image, as `npm run image` builds it.
  const work = await mkdtemp(path.join(tmpdir(), "procview-k8s-"));
  ctx.work = work;
  const archive = path.join(work, "procview.oci.tar");
  ctx.archive = archive;
  const built = await execa(process.execPath, [path.join(DIST_DIR, "scripts", "build-image.js"), "--output", archive]);
  t.log(built.stdout.trim());

  // The node: the manifest's hostPath directories, private to it (the cgroup tree is the machine's).
  const nodePaths = (podTemplate(manifest).spec?.volumes ?? []).map((v) => v.hostPath!.path).filter((p) => p !== "/sys/fs/cgroup");
  ctx.node = await nodeNamespace(nodePaths);
  // containerd 2.1 as the node runs it: NRI on its default socket (private to the node).
  ctx.dirs = { ...(await makeContainerdDir("2")), nriSocket: "/var/run/nri/nri.sock" };
  await writeContainerdConfig(ctx.dirs, "on");
  ctx.containerd = await startContainerd(ctx.dirs, ctx.node.enter);
  await importTestImage(ctx.dirs);
  await importImage(ctx.dirs, archive);
  // The workload's image: busybox and the reader, a static program.
  const rootfs = await rootfsWith([]);
  const reader = path.join(work, "stress-reader");
  await execa("cc", ["-static", "-O2", "-Wall", "-o", reader, path.join(PACKAGE_ROOT, "test/support/stress-reader.c")]);
  await copyInto(rootfs, reader, READER);
  await writeOciImage({ rootfs, name: WORKLOAD_IMAGE, cmd: ["/bin/sleep", "86400"] }, path.join(work, "workload.tar"));
  await importImage(ctx.dirs, path.join(work, "workload.tar"));
  ctx.cri = await CriClient.connect(ctx.dirs.address);
  const node = ctx.node;
  ctx.kubelet = { cri: ctx.cri, nodePath: (p) => node.nodePath(p), logRoot: path.join(ctx.dirs.dir, "pods") };
});

test.after.always(async () => {
  if (ctx.cri) {
    const list = await ctx.cri.call<{ items: { id: string }[] }>("ListPodSandbox", {}).catch(() => ({ items: [] }));
    for (const p of list.items ?? []) {
      await ctx.cri.call("StopPodSandbox", { pod_sandbox_id: p.id }).catch(() => undefined);
      await ctx.cri.call("RemovePodSandbox", { pod_sandbox_id: p.id }).catch(() => undefined);
    }
    ctx.cri.close();
  }
  await ctx.containerd?.stop();
  if (ctx.dirs && !process.env.PROCVIEW_KEEP) await destroyContainerdDir(ctx.dirs);
  await ctx.node?.stop();
  if (ctx.work) await rm(ctx.work, { recursive: true, force: true });
});

test.serial(
  "the image: labelled with the version, procview as its entrypoint, the product and production node_modules only; the manifest runs it",
  async (t) => {
    const c = need("manifest", "archive", "work");
    const layout = await mkdtemp(path.join(c.work, "image-"));
    await extractTar({ file: c.archive, cwd: layout });
    const blob = async (digest: string): Promise<Buffer> => readFile(path.join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")));
    const index = JSON.parse(await readFile(path.join(layout, "index.json"), "utf8")) as {
      manifests: { digest: string; annotations: Record<string, string> }[];
    };
    t.is(index.manifests[0]?.annotations["io.containerd.image.name"], imageReference(VERSION));
    const manifest = JSON.parse((await blob(index.manifests[0]!.digest)).toString()) as {
      config: { digest: string };
      layers: { digest: string }[];
    };
    const config = JSON.parse((await blob(manifest.config.digest)).toString()) as {
      config: { Entrypoint: string[]; Labels: Record<string, string> };
    };
    t.deepEqual(config.config.Entrypoint, ["procview"]);
    t.is(config.config.Labels["org.opencontainers.image.version"], VERSION);
    const files: string[] = [];
    await listTar({
      file: path.join(layout, "blobs", "sha256", manifest.layers[0]!.digest.replace(/^sha256:/, "")),
      onReadEntry: (e) => void files.push(e.path),
    });
    for (const present of [
      "usr/bin/node",
      "usr/local/bin/procview",
      "opt/procview/dist/cli/procview.js",
      "opt/procview/dist/native/procview-keeper",
      "opt/procview/node_modules/zod/",
    ])
      t.true(files.includes(present), `${present} is in the image`);
    for (const absent of [
      "opt/procview/dist/test/",
      "opt/procview/dist/bench/",
      "opt/procview/node_modules/ava/",
      "opt/procview/node_modules/typescript/",
    ])
      t.false(files.includes(absent), `${absent} is not`);
    t.false(
      files.some((f) => f.endsWith(".js.map")),
      "no source maps",
    );
    for (const k of c.manifest.daemonSet.spec?.template.spec?.containers ?? []) t.is(k.image, imageReference(VERSION), k.name);
  },
);

test.serial("the DaemonSet's pod, run from the manifest over CRI, mounts the views on the node and becomes ready", async (t) => {
  const c = need("manifest", "kubelet", "node", "cri");
  const started = Date.now();
  ctx.procview = await runProcviewPod(c);
  await waitReady(c.kubelet, ctx.procview, 60_000);
  t.log(`pod ${ctx.procview.name} ready ${Date.now() - started} ms after RunPodSandbox`);
  const onNode = parseMountinfo(readFileSync(`/proc/${c.node.pid}/mountinfo`, "utf8")).filter((m) => m.mountPoint === "/var/lib/procview");
  t.true(
    onNode.some((m) => m.fstype === "fuse.procview"),
    `the FUSE mount reached the node: ${onNode.map((m) => m.fstype).join(", ")}`,
  );
  const status = await probe(c.kubelet, ctx.procview, "serve", "readinessProbe");
  t.regex(status.output, /this container\s+its keeper \(pid \d+\) serves the mount/);
  t.log(await logged(ctx.procview, "nri", /registered as 10-procview/).then((l) => l.line));
});

test.serial("a workload pod (256 MiB / 1 CPU) with no annotation or volume of its own reads MemTotal: 262144 kB", async (t) => {
  const c = need("kubelet", "cri", "procview");
  new Pod(WORKLOAD).validate();
  t.is(WORKLOAD.metadata?.annotations, undefined);
  t.is(WORKLOAD.spec?.volumes, undefined);
  ctx.workload = await runPod(c.kubelet, WORKLOAD, "app");
  const id = container(ctx.workload, "app").id;
  const meminfo = (await exec(c, id, ["cat", "/proc/meminfo"])).stdout;
  const cpuinfo = (await exec(c, id, ["cat", "/proc/cpuinfo"])).stdout;
  t.log(`${memTotal(meminfo)} | processors: ${processors(cpuinfo)}`);
  t.is(memTotal(meminfo), "MemTotal: 262144 kB");
  t.is(processors(cpuinfo), 1);
  const binds = parseMountinfo((await exec(c, id, ["cat", "/proc/self/mountinfo"])).stdout).filter((m) => m.fstype === "fuse.procview");
  t.true(
    binds.some((m) => m.mountPoint === "/proc/meminfo" && servedFile(m.root, m.source)?.file === `/containers/${id}/proc/meminfo`),
    JSON.stringify(binds),
  );
  t.log(`${binds.length} views bound: ${binds.map((m) => m.mountPoint).join(" ")}`);
});

test.serial(
  "replacing the procview pod (a new one from the same template, then the old one stopped): 0 failed reads in the workload",
  async (t) => {
    const c = need("manifest", "kubelet", "cri", "procview", "workload");
    const old = c.procview;
    const reader = await startReader(c);

    // Containers keep being created meanwhile, from before the new pod starts until after the
    // old one is gone: none may fail, and each must get each view exactly once, whichever plugin
    // (or both) the runtime has registered when it is created.
    let replaced = false;
    const churnPod = await runBarePod(c.cri, "churn", { annotations: {} });
    const created: { ok: boolean; id?: string; error?: string; at: number }[] = [];
    const churn = (async () => {
      let afterStop = 0;
      while ((!replaced || afterStop < 3) && created.length < 200) {
        if (replaced) afterStop++;
        const at = Date.now();
        try {
          created.push({
            ok: true,
            id: await startContainer(c.cri, churnPod, `churn-${created.length}`, { image: TEST_IMAGE, memoryBytes: 256 * MiB }),
            at,
          });
        } catch (err) {
          created.push({ ok: false, error: (err as Error).message, at });
        }
      }
    })();

    const started = Date.now();
    const next = await runProcviewPod(c);
    await waitReady(c.kubelet, next, 60_000);
    const waiting = await probe(c.kubelet, next, "serve", "readinessProbe");
    t.regex(waiting.output, /its keeper \(pid \d+\) waits to take the mount over/);
    // Ready: its plugin is registered beside the old pod's, both in the runtime's list.
    const plugins = await probe(c.kubelet, next, "nri", "readinessProbe");
    t.regex(plugins.output, /^10-procview pid \d+, this container: registered with containerd 2\.\d+\.\d+/m);
    t.regex(plugins.output, /^10-procview pid \d+: registered with containerd 2\.\d+\.\d+/m, "and the old pod's");
    const registered = await logged(next, "nri", /registered as 10-procview/);
    t.log(
      `new pod ${next.name} ready (its keeper registered to take over, its plugin registered) ${Date.now() - started} ms after RunPodSandbox`,
    );

    const stopping = Date.now();
    const exitCodes = await stopPod(c.kubelet, old);
    const stoppedAt = Date.now();
    t.log(`old pod ${old.name} stopped in ${stoppedAt - stopping} ms`);
    replaced = true;
    await churn;
    ctx.procview = next;
    const serving = await probe(c.kubelet, next, "serve", "readinessProbe");
    t.regex(serving.output, /its keeper \(pid \d+\) serves the mount/);
    t.regex(serving.output, /handoffs between keepers\s+1/);
    const nriReady = await probe(c.kubelet, next, "nri", "readinessProbe");
    t.true(nriReady.ok, nriReady.output);

    const r = await reader.stop();
    t.log(
      `reader in the workload: ${r.reads} reads, ${r.errors} failed, ${r.wrong} wrong, longest stall ${r.maxStallMs.toFixed(1)} ms` +
        (r.errors || r.wrong ? `; first problem: ${r.firstProblem}` : ""),
    );
    t.true(r.reads > 1000, `${r.reads} reads`);
    t.is(r.errors, 0);
    t.is(r.wrong, 0);

    const failed = created.filter((x) => !x.ok);
    t.deepEqual(failed, [], "every container created during the replacement started");
    // Told to stop, the old plugin answered what it was answering, left the runtime and ended of
    // itself (exit 0 comes only once it has left). Its last line, saying so, is timed when the log
    // has it; containerd may cut the last lines of a stopped pod's log off.
    t.is(exitCodes.get("nri"), 0, "the old plugin ended of itself");
    const oldLeft = logLine(old, "nri", /left the runtime/) ?? { at: stoppedAt, line: "" };
    const oldLog = containerLog(old, "nri");
    const newLog = containerLog(next, "nri");
    const oldStopped = oldLog.find((l) => /SIGTERM: stopping/.test(l.line));
    const boundBy = { old: 0, new: 0 };
    const withoutViews: string[] = [];
    for (const [i, x] of created.entries()) {
      if (!x.ok) continue;
      const meminfo = (await exec(c, x.id!, ["grep", "MemTotal", "/proc/meminfo"])).stdout.replace(/\s+/g, " ").trim();
      const targets = parseMountinfo((await exec(c, x.id!, ["cat", "/proc/self/mountinfo"])).stdout)
        .filter((m) => m.fstype === "fuse.procview")
        .map((m) => m.mountPoint);
      if (meminfo !== "MemTotal: 262144 kB" || targets.length !== 9 || new Set(targets).size !== 9)
        withoutViews.push(`churn-${i} (created ${x.at - stopping} ms from the old pod's stop): ${meminfo}; ${targets.length} views`);
      const bound = new RegExp(`/churn-${i}: 9 views`);
      if (oldLog.some((l) => bound.test(l.line))) boundBy.old++;
      if (newLog.some((l) => bound.test(l.line))) boundBy.new++;
    }
    t.deepEqual(withoutViews, [], "every container created during the replacement has each view, once");
    t.is(boundBy.old + boundBy.new, created.length, "each bound by exactly one plugin");
    const span = (a?: { at: number }, b?: { at: number }): string => (a && b ? `${b.at - a.at} ms` : "?");
    const overlap = created.filter((x) => x.at >= registered.at && x.at <= oldLeft.at).length;
    t.log(
      `${created.length} containers created meanwhile (from ${started - created[0]!.at} ms before the new pod to after the old one was gone), all started, ` +
        `all with their views (each once): ${boundBy.old} bound by the old pod's plugin, ${boundBy.new} by the new one's; ${overlap} created while both were registered ` +
        `(${span(registered, oldStopped)} before the old plugin's SIGTERM, which left the runtime ${span(oldStopped, oldLeft)} after it)`,
    );
    t.log(`memory peak: serve ${await memoryPeak(c, next, "serve")}, nri ${await memoryPeak(c, next, "nri")} (new pod)`);
  },
);

test.serial("killing the procview pod abruptly: the workload's views come back", async (t) => {
  const c = need("kubelet", "cri", "procview", "workload");
  const pod = c.procview;
  const reader = await startReader(c);
  const id = container(c.workload, "app").id;
  const killedAt = Date.now();
  const killed = await killPodProcesses(c.kubelet, pod);
  // kubelet restarts the containers of a pod whose containers died (restartPolicy Always).
  await restartDeadContainers(c.kubelet, pod);
  const restartedAt = Date.now();
  const back = async (): Promise<boolean> => memTotal((await exec(c, id, ["cat", "/proc/meminfo"])).stdout) === "MemTotal: 262144 kB";
  await waitFor("the workload's views to come back", back, { timeoutMs: 60_000, intervalMs: 20 }).catch((err: Error) => {
    const logs = ["serve", "nri"]
      .map(
        (n) =>
          `${n}:\n${containerLog(pod, n)
            .map((l) => l.line)
            .join("\n")}`,
      )
      .join("\n");
    throw new Error(`${err.message}; the procview pod's logs:\n${logs}`, { cause: err });
  });
  const backAt = Date.now();
  await waitReady(c.kubelet, pod, 60_000);
  const r = await reader.stop();
  t.log(
    `killed ${killed} processes; containers started again after ${restartedAt - killedAt} ms; the workload read its views again ` +
      `${backAt - killedAt} ms after the kill (${backAt - restartedAt} ms after the restart)`,
  );
  t.log(
    `reader in the workload: ${r.reads} reads, ${r.errors} failed while the views were gone (longest outage ${r.maxOutageMs.toFixed(0)} ms), ${r.wrong} wrong; first problem: ${r.firstProblem}`,
  );
  // The node's copy of the dead mount is covered by the new one, which reaches the node that way.
  t.log(`keeper: ${(await logged(pod, "serve", /stale FUSE mount .* shared with other mount namespaces: mounting over it/)).line}`);
  t.is(r.wrong, 0, r.firstProblem);
  // Every view of the workload is a live procview file again.
  const views = parseMountinfo((await exec(c, id, ["cat", "/proc/self/mountinfo"])).stdout).filter((m) => m.fstype === "fuse.procview");
  t.is(views.length, 9, views.map((m) => m.mountPoint).join(" "));
  t.is((await exec(c, id, ["cat", ...views.map((m) => m.mountPoint)])).exitCode, 0, "every view reads");
  // The new pod's keeper brought them back itself: a restore takes only the views of the
  // connections its predecessor on the same mountpoint recorded, so no other procview on the
  // machine (another test's) takes them first, or leaves them dead when it stops.
  const restored = await logged(pod, "serve", /brought back \d+ of \d+ dead views/);
  const serving = logLine(pod, "serve", /serving process \d+ serves/);
  t.log(`keeper: ${restored.line}${serving ? ` (${restored.at - serving.at} ms after its serving process began to serve)` : ""}`);
  t.regex((await exec(c, id, ["cat", "/proc/cpuinfo"])).stdout, /^processor\s*:\s*0$/m);
  t.is(processors((await exec(c, id, ["cat", "/proc/cpuinfo"])).stdout), 1);
});
