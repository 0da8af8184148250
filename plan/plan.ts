// Which procview files go where, and which must be left alone. Pure: no I/O, so the same
// rules drive the OCI hook (which binds by hand) and the NRI plugin (which adds the binds to
// the spec). Checks that need the container's filesystem (does the target exist under the
// rootfs, is it a symlink) live with the hook, in hook/rootfs-check.ts.
import path from "node:path";
import { VIEW_FILES, type ViewFile } from "../core/layout.js";

/** Annotation that turns the views off for one container. */
export const DISABLE_ANNOTATION = "io.procview.disable";

// Annotation → value that means "no views". Sandbox (pause) containers run
// one static binary and never read /proc/meminfo; binding into them only
// costs time. The lxcfs-admission-webhook key is the one LXCFS-on-Kubernetes
// users already put on pods they want left alone.
const OPT_OUT_ANNOTATIONS: ReadonlyArray<readonly [string, string, string]> = [
  [DISABLE_ANNOTATION, "true", "opted out by annotation io.procview.disable=true"],
  ["mutating.lxcfs-admission-webhook.io/enable", "false", "opted out by annotation mutating.lxcfs-admission-webhook.io/enable=false"],
  ["io.kubernetes.cri.container-type", "sandbox", "Kubernetes sandbox (pause) container (containerd)"],
  ["io.kubernetes.cri-o.ContainerType", "sandbox", "Kubernetes sandbox (pause) container (CRI-O)"],
  ["io.kubernetes.docker.type", "podsandbox", "Kubernetes sandbox (pause) container (dockershim)"],
];

// The /proc files runc lets a config.json mount cover (libcontainer/rootfs_linux.go,
// checkProcMount: "a few specific entries emulated by lxcfs"; the same list from runc 1.1 to
// 1.5, which also allow /proc/net/dev, /proc/sys/kernel/ns_last_pid and
// /proc/sys/crypto/fips_enabled). Any other mount inside /proc fails the container's start.
// The OCI hook binds after runc's checks and is not bound by it; mounts added to the spec
// (NRI) are.
export const RUNC_PROC_MOUNTS: ReadonlySet<string> = new Set([
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/loadavg",
  "/proc/slabinfo",
]);

// Mounts every runtime puts at these places; they are what we bind over, not
// a user's own choice.
const STANDARD_MOUNTS: ReadonlyArray<readonly [string, string]> = [
  ["/proc", "proc"],
  ["/sys", "sysfs"],
];

export interface PlanInput {
  /** Absolute host directory with the LXCFS layout (procview's mountpoint or an lxcfs mountpoint). Trusted (comes from the hook's config). */
  source: string;
  /** Container annotations (untrusted). */
  annotations?: Record<string, string>;
  /** The parts of the container's OCI config that decide skips (untrusted). */
  mounts?: ReadonlyArray<{ destination: string; type?: string }>;
  maskedPaths?: ReadonlyArray<string>;
  /** linux.namespaces; undefined or without a "mount" entry means the container shares the host's mount namespace. */
  namespaces?: ReadonlyArray<{ type: string; path?: string }>;
  /** The mounts go into the OCI spec (NRI) rather than being bound by hand after the runtime's
   * checks (the OCI hook): targets inside /proc that runc refuses are skipped. */
  inSpec?: boolean;
}

export interface PlannedMount {
  file: ViewFile;
  /** Absolute host path, e.g. /var/lib/procview/proc/meminfo. */
  source: string;
  /** Absolute path inside the container, e.g. /proc/meminfo. */
  destination: string;
}

export interface SkippedMount {
  file: ViewFile;
  destination: string;
  reason: string;
}

export type Plan = { kind: "opt-out"; reason: string } | { kind: "mount"; mounts: PlannedMount[]; skipped: SkippedMount[] };

/** Normalise a container path: absolute, no "..", no trailing slash. Relative destinations are taken from "/" as runc does. */
export function normalizeContainerPath(p: string): string {
  const n = path.posix.normalize(path.posix.join("/", p));
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** True when `ancestor` is `p` itself or a directory above it. */
export function coversPath(ancestor: string, p: string): boolean {
  return ancestor === p || ancestor === "/" || p.startsWith(ancestor + "/");
}

export function optOutReason(annotations: Record<string, string> | undefined): string | undefined {
  if (!annotations) return undefined;
  for (const [key, value, reason] of OPT_OUT_ANNOTATIONS) {
    const v = annotations[key];
    if (typeof v === "string" && v.trim().toLowerCase() === value.toLowerCase()) return reason;
  }
  return undefined;
}

function isStandardMount(m: { destination: string; type?: string }): boolean {
  const dest = normalizeContainerPath(m.destination);
  return STANDARD_MOUNTS.some(([d, t]) => d === dest && m.type === t);
}

/** Reason to leave one destination alone, from the config alone. */
function skipReason(destination: string, input: PlanInput): string | undefined {
  if (input.inSpec && coversPath("/proc", destination) && !RUNC_PROC_MOUNTS.has(destination)) {
    return "runc refuses a mount there (not on its /proc allow-list)";
  }
  for (const masked of input.maskedPaths ?? []) {
    if (coversPath(normalizeContainerPath(masked), destination)) {
      return `masked by linux.maskedPaths entry ${JSON.stringify(masked)}`;
    }
  }
  for (const m of input.mounts ?? []) {
    if (isStandardMount(m)) continue;
    const dest = normalizeContainerPath(m.destination);
    // "/" never appears as a mount destination in practice; a mount there
    // would cover everything and is left to the runtime, not treated as a user bind.
    if (dest === "/") continue;
    if (coversPath(dest, destination)) {
      return `the container mounts ${JSON.stringify(m.destination)} itself`;
    }
  }
  return undefined;
}

export function planViews(input: PlanInput): Plan {
  const optOut = optOutReason(input.annotations);
  if (optOut) return { kind: "opt-out", reason: optOut };

  const mountNs = input.namespaces?.find((ns) => ns.type === "mount");
  if (!mountNs) {
    // Binding "into the container" would then bind on the host and outlive it.
    return { kind: "opt-out", reason: "the container shares the host mount namespace" };
  }

  const mounts: PlannedMount[] = [];
  const skipped: SkippedMount[] = [];
  for (const file of VIEW_FILES) {
    const destination = "/" + file;
    const reason = skipReason(destination, input);
    if (reason) skipped.push({ file, destination, reason });
    else mounts.push({ file, source: path.posix.join(input.source, file), destination });
  }
  return { kind: "mount", mounts, skipped };
}

/** The same plan with every source taken from `source` instead (a container's own copy of the
 * layout, `<source>/containers/<id>`, once it is known to exist). */
export function rebasePlan<P extends Plan>(plan: P, source: string): P {
  if (plan.kind !== "mount") return plan;
  return { ...plan, mounts: plan.mounts.map((m) => ({ ...m, source: path.posix.join(source, m.file) })) };
}
