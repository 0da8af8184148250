// deploy/kubernetes/procview.yaml, offline: every object passes the Kubernetes API's OpenAPI
// schema (kubernetes-models; no cluster needed), and the DaemonSet keeps the conventions the
// README promises and the zero-failed-read update depends on. The live test
// (test/k8s/daemonset.live.test.ts) runs the same pod template over CRI.
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { IContainer, IVolume } from "kubernetes-models/v1";
import { loadManifest, MANIFEST, podTemplate } from "../support/manifest.js";
import { DEFAULT_MOUNTPOINT, DEFAULT_NRI_SOCKET, DEFAULT_RUNTIME_DIR, PACKAGE_ROOT, imageReference } from "../../core/paths.js";

const manifest = loadManifest();
const template = podTemplate(manifest);
const spec = template.spec!;
const version = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;

function containerNamed(name: string): IContainer {
  const c = spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

/** The node path a container mounts at `at`, with how. */
function mountOf(c: IContainer, at: string): { hostPath: string; propagation: string; readOnly: boolean } | undefined {
  const m = c.volumeMounts?.find((x) => x.mountPath === at);
  if (!m) return undefined;
  const v: IVolume | undefined = spec.volumes?.find((x) => x.name === m.name);
  return { hostPath: v?.hostPath?.path ?? "", propagation: m.mountPropagation ?? "None", readOnly: m.readOnly ?? false };
}

test("every object of the manifest passes the Kubernetes API schema (offline)", (t) => {
  t.deepEqual(manifest.objects, [
    "Namespace/procview",
    "ResourceQuota/procview-critical-pods",
    "ServiceAccount/procview",
    "DaemonSet/procview",
  ]);
});

test("the schema check catches what the API server would refuse", (t) => {
  const text = readFileSync(MANIFEST, "utf8");
  t.throws(() => loadManifest(text.replace("privileged: true", 'privileged: "yes"')), { message: /privileged must be boolean/ });
  t.throws(() => loadManifest(text.replace("terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: a minute")), {
    message: /terminationGracePeriodSeconds must be integer/,
  });
  t.throws(() => loadManifest(text.replace("        - name: nri\n          image:", "        - image:")), {
    message: /containers\/1 must have required property name/,
  });
  t.throws(() => loadManifest(text.replace("kind: ServiceAccount", "kind: ServiceAcount")), {
    message: /unexpected object v1\/ServiceAcount/,
  });
  t.throws(() => loadManifest(`${text}kind: DaemonSet\n`), { message: /^YAML: Map keys must be unique/ });
});

test("one namespace and its service account hold the DaemonSet; the account has no token", (t) => {
  const ns = manifest.namespace.metadata?.name;
  t.is(manifest.serviceAccount.metadata?.namespace, ns);
  t.is(manifest.daemonSet.metadata?.namespace, ns);
  t.is(manifest.quota.metadata?.namespace, ns);
  t.is(spec.serviceAccountName, manifest.serviceAccount.metadata?.name);
  t.false(manifest.serviceAccount.automountServiceAccountToken);
  t.false(spec.automountServiceAccountToken);
  t.is(manifest.namespace.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "privileged");
  t.deepEqual(manifest.quota.spec?.scopeSelector?.matchExpressions?.[0]?.values, ["system-node-critical"]);
});

test("node-agent conventions: node-critical priority, every taint tolerated, host PID, resources with memory limits", (t) => {
  t.is(spec.priorityClassName, "system-node-critical");
  t.deepEqual(spec.tolerations, [{ operator: "Exists" }]);
  t.true(spec.hostPID);
  for (const c of spec.containers) {
    t.truthy(c.resources?.requests?.cpu, `${c.name} requests CPU`);
    t.truthy(c.resources?.requests?.memory, `${c.name} requests memory`);
    t.truthy(c.resources?.limits?.memory, `${c.name} has a memory limit`);
    t.is(c.image, imageReference(version), `${c.name} runs this version's image`);
  }
  t.is(manifest.daemonSet.metadata?.labels?.["app.kubernetes.io/version"], version);
});

test("serve: privileged, the views' directory shared both ways with the node, runtime directory and cgroups, probes from procview status", (t) => {
  const serve = containerNamed("serve");
  t.deepEqual(serve.args?.slice(0, 3), ["serve", "--foreground", "--take-over"]);
  t.true(serve.securityContext?.privileged);
  t.deepEqual(mountOf(serve, DEFAULT_MOUNTPOINT), { hostPath: DEFAULT_MOUNTPOINT, propagation: "Bidirectional", readOnly: false });
  t.deepEqual(mountOf(serve, DEFAULT_RUNTIME_DIR), { hostPath: DEFAULT_RUNTIME_DIR, propagation: "None", readOnly: false });
  t.deepEqual(mountOf(serve, "/sys/fs/cgroup"), { hostPath: "/sys/fs/cgroup", propagation: "None", readOnly: true });
  for (const p of [serve.readinessProbe, serve.livenessProbe]) t.deepEqual(p?.exec?.command, ["procview", "status", "--this-container"]);
  t.is(serve.resources?.limits?.cpu, undefined, "no CPU limit: a throttled FUSE server stalls every reader");
});

test("nri: the plugin with no privilege, the NRI socket's directory, the views seen from the node, the status records' directory; ready once its own plugin is registered", (t) => {
  const nri = containerNamed("nri");
  t.deepEqual(nri.args, ["nri", "--socket", DEFAULT_NRI_SOCKET, "--source", DEFAULT_MOUNTPOINT]);
  t.falsy(nri.securityContext?.privileged);
  t.deepEqual(nri.securityContext?.capabilities?.drop, ["ALL"]);
  t.false(nri.securityContext?.allowPrivilegeEscalation);
  t.true(nri.securityContext?.readOnlyRootFilesystem);
  t.deepEqual(mountOf(nri, path.dirname(DEFAULT_NRI_SOCKET)), {
    hostPath: path.dirname(DEFAULT_NRI_SOCKET),
    propagation: "None",
    readOnly: false,
  });
  t.deepEqual(mountOf(nri, DEFAULT_MOUNTPOINT), { hostPath: DEFAULT_MOUNTPOINT, propagation: "HostToContainer", readOnly: true });
  t.deepEqual(mountOf(nri, DEFAULT_RUNTIME_DIR), { hostPath: DEFAULT_RUNTIME_DIR, propagation: "None", readOnly: false });
  // The rolling update waits for it: the old pod's plugin leaves only once this one takes part.
  t.deepEqual(nri.readinessProbe?.exec?.command, ["procview", "nri-status", "--this-container"]);
});

test("the update strategy lets no node go without a keeper or a registered plugin: a surge pod first, the old one stopped once the new one is ready", (t) => {
  t.deepEqual(manifest.daemonSet.spec?.updateStrategy, { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
  for (const c of spec.containers) t.truthy(c.readinessProbe?.exec, `${c.name}: ready only when it says so`);
  // The old keeper waits up to 30 s for its successor's serving process before giving up the handoff.
  t.true((spec.terminationGracePeriodSeconds ?? 30) > 30);
});

test("procview's own pods opt out of the views (they read the node's files)", (t) => {
  t.is(template.metadata?.annotations?.["io.procview.disable"], "true");
});
