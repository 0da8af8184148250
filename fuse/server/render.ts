// From the pid in a request header to the text of one view: who is reading → which container's
// numbers → the pure renderer of that view over the host's own file.
import type { RequestCaller } from "../kernel/request-loop.js";
import { detectLayout, type CgroupLayout } from "../cgroup/layout.js";
import { resolveCaller, type Caller, type CallerOptions } from "../cgroup/caller.js";
import { resolveRegistered } from "../cgroup/registered.js";
import type { Registration } from "../../core/registry.js";
import { readCgroupNs, readPidNs } from "../cgroup/process.js";
import {
  containerUptime,
  renderCpuOffline,
  renderCpuOnline,
  renderCpuPossible,
  renderCpuPresent,
  renderCpuinfo,
  renderDiskstats,
  renderLoadavg,
  renderMeminfo,
  renderStat,
  renderSwaps,
  renderUptime,
  visibleCpus,
} from "../views/index.js";
import type { CpuNumbers } from "../cgroup/types.js";
import { ContainerNumbers } from "./container-numbers.js";
import { ExpiringNsInitCache } from "./ns-init-cache.js";
import { HostFiles, meminfoBytes, uptimeSeconds, type HostFile } from "./host-files.js";
import { createKernelStatsRenderer } from "./kernel-stats.js";
import { pageSizes } from "./page-sizes.js";
import type { LoadView } from "./load/view.js";
import type { RenderOptions } from "./worker-protocol.js";
import { HOST_TENANT, type Tenant } from "./handle-store.js";
import type { Rendered } from "./filesystem.js";
import { describeProblem, type Problem } from "./problems.js";
import { type ViewName } from "../../core/layout.js";

/** USER_HZ: the unit of /proc/stat and /proc/<pid>/stat times, 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

/** The host file a view passes through unchanged for host readers. */
const HOST_SOURCE: Record<ViewName, HostFile | null> = {
  meminfo: "meminfo",
  cpuinfo: "cpuinfo",
  stat: "stat",
  uptime: "uptime",
  loadavg: "loadavg",
  diskstats: "diskstats",
  swaps: "swaps",
  "cpu-online": "cpu-online",
  "cpu-possible": "cpu-online",
  "cpu-present": "cpu-online",
  "cpu-offline": null,
  "pressure-cpu": "pressure-cpu",
  "pressure-memory": "pressure-memory",
  "pressure-io": "pressure-io",
  vmstat: "vmstat",
  slabinfo: "slabinfo",
};

export type ViewRenderer = (view: ViewName, caller: RequestCaller) => Rendered;

/** Readers in pid namespaces procview cannot see (pid 0 in the header), as one tenant. */
const UNSEEN_TENANT: Tenant = { key: "readers in pid namespaces procview cannot see", host: false };
/** Readers gone before they could be resolved, as one tenant. */
const VANISHED_TENANT: Tenant = { key: "readers gone before they were resolved", host: false };

function ownCgroupKey(layout: CgroupLayout, procRoot: string, selfPidNs: string | undefined): string | undefined {
  try {
    return resolveCaller(process.pid, { layout, procRoot, selfPidNs })?.key;
  } catch {
    // A procfs without us in it (rendering over fixtures): no reader is procview then.
    return undefined;
  }
}

/** Renders the views of a container given, not of whoever reads (the per-container tree). */
export interface ContainerRenderer {
  /** The container a registration names, as a reader of its own views; null while it cannot be
   * told (no process in its cgroup yet) or once it is gone. */
  resolve(registration: Registration): Caller | null;
  /** The text of `view` for that container (the host's file where it reads the host's). */
  render(view: ViewName, container: Caller): string;
}

interface RenderParts {
  resolveOptions: () => CallerOptions;
  hostView: (view: ViewName, now: number) => string;
  /** The container's text, or the host's when its numbers cannot be read; null never. */
  containerText: (view: ViewName, caller: Caller, now: number) => string;
  ownKey: string | undefined;
}

/**
 * `report` hears of every unexpected failure of a cgroup or process read (it is up to it to log
 * each once). The reader is never failed for one: it is shown the nearest ancestor's numbers, or
 * the host's files when even those cannot be read or it cannot be told who the reader is.
 */
export function createRenderer(options: RenderOptions, loads: LoadView, report: (problem: Problem) => void = () => {}): ViewRenderer {
  const { resolveOptions, hostView, containerText, ownKey } = renderParts(options, loads, report);

  /** The tenant a reader counts against: its container; the host for host processes as root
   * and procview's own; each other host user on its own. */
  const tenantOf = (caller: Caller, uid: number): Tenant => {
    if (caller.isHost) return uid === 0 ? HOST_TENANT : { key: `uid ${uid} on the host`, host: false };
    return caller.key === ownKey ? HOST_TENANT : { key: caller.key, host: false };
  };

  return (view, requestCaller) => {
    const now = Date.now();
    // pid 0: the opener lives in a pid namespace we cannot see, so we cannot tell its cgroup.
    // It gets what it would read without procview rather than anyone else's numbers.
    if (requestCaller.pid === 0) return { text: hostView(view, now), tenant: UNSEEN_TENANT };
    let caller: Caller | null;
    try {
      caller = resolveCaller(requestCaller.pid, resolveOptions());
    } catch (err) {
      // Who is reading cannot be told: what it would read without procview, never anyone else's.
      report(describeProblem("telling whose container reads", `pid ${requestCaller.pid}`, err));
      return { text: hostView(view, now), tenant: UNSEEN_TENANT };
    }
    // A caller that vanished mid-resolution cannot read the result anyway.
    if (caller === null) return { text: hostView(view, now), tenant: VANISHED_TENANT };
    return { text: containerText(view, caller, now), tenant: tenantOf(caller, requestCaller.uid) };
  };
}

export function createContainerRenderer(
  options: RenderOptions,
  loads: LoadView,
  report: (problem: Problem) => void = () => {},
): ContainerRenderer {
  const { resolveOptions, containerText } = renderParts(options, loads, report);
  return {
    resolve: (registration) => resolveRegistered(registration, resolveOptions()),
    render: (view, container) => containerText(view, container, Date.now()),
  };
}

function renderParts(options: RenderOptions, loads: LoadView, report: (problem: Problem) => void): RenderParts {
  const layout = detectLayout(options.cgroupRoot);
  const selfPidNs = readPidNs(options.procRoot, "self") ?? undefined;
  const selfCgroupNs = readCgroupNs(options.procRoot, "self");
  const host = new HostFiles(options.procRoot, options.sysRoot, options.cacheMs);
  const numbers = new ContainerNumbers(layout, options.procRoot, options.sysRoot, options.cacheMs, report);
  const onInitNamespaceError = (err: unknown) =>
    report(describeProblem("reading a container init's cgroup namespace (init.scope is pruned instead)", "its container", err));
  const nsInits = new ExpiringNsInitCache(Math.max(options.cacheMs, 1000));
  const pidNamespaces = new Map<number, string>();
  const kernelStats = createKernelStatsRenderer({ layout, host, numbers, pages: pageSizes(options.procRoot, options.sysRoot) });
  // procview's own cgroup (its processes, such as the hook's probe, belong to the host's tenant).
  const ownKey = ownCgroupKey(layout, options.procRoot, selfPidNs);

  const hostView = (view: ViewName, now: number): string => {
    const source = HOST_SOURCE[view];
    // The host's offline list: nothing offline is the common case and what we show containers.
    return source === null ? renderCpuOffline() : host.read(source, now);
  };

  const visible = (cpu: CpuNumbers): number[] => visibleCpus(cpu, { useQuota: options.useCpuQuota });

  const uptimeOf = (caller: Caller, cpu: CpuNumbers, now: number) =>
    containerUptime({
      hostUptimeSeconds: uptimeSeconds(host.read("uptime", now)),
      initStartTicks: caller.nsInitStartTicks,
      ticksPerSecond: TICKS_PER_SECOND,
      usage: cpu.usage,
      visibleCpuCount: visible(cpu).length,
    });

  // Counting tasks reads every task's state: the main thread does it every 5 s; a read
  // counts them itself only before the first sample of its container has arrived.
  const tasksOf = (caller: Caller, now: number) => loads.sampled(caller.key, caller.paths).tasks ?? numbers.tasks(caller, now);

  function containerView(view: ViewName, caller: Caller, now: number): string | null {
    switch (view) {
      case "meminfo": {
        const memory = numbers.memory(caller, now);
        return memory && renderMeminfo(host.read("meminfo", now), memory);
      }
      case "swaps": {
        const memory = numbers.memory(caller, now);
        if (!memory) return null;
        const meminfo = host.read("meminfo", now);
        return renderSwaps(host.read("swaps", now), memory, meminfoBytes(meminfo, "SwapTotal"), meminfoBytes(meminfo, "SwapFree"));
      }
      case "cpuinfo": {
        const cpu = numbers.cpu(caller, now);
        return cpu && renderCpuinfo(host.read("cpuinfo", now), visible(cpu));
      }
      case "stat": {
        const cpu = numbers.cpu(caller, now);
        if (!cpu) return null;
        return renderStat(host.read("stat", now), {
          visibleHostCpuIds: visible(cpu),
          usage: cpu.usage,
          usagePerCpu: cpu.usagePerCpu,
          // In whole ticks: /proc/uptime prints hundredths, which are exactly USER_HZ ticks, so
          // the sum is exact where seconds × 100 in floating point would floor one tick short.
          elapsedTicksPerCpu: Math.max(0, Math.round(uptimeSeconds(host.read("uptime", now)) * TICKS_PER_SECOND) - caller.nsInitStartTicks),
          ticksPerSecond: TICKS_PER_SECOND,
          tasks: tasksOf(caller, now),
        });
      }
      case "uptime": {
        const cpu = numbers.cpu(caller, now);
        return cpu && renderUptime(uptimeOf(caller, cpu, now));
      }
      case "loadavg": {
        const sampled = loads.sampled(caller.key, caller.paths);
        const tasks = sampled.tasks ?? numbers.tasks(caller, now);
        return tasks && renderLoadavg(sampled.load, tasks);
      }
      case "diskstats": {
        const io = numbers.io(caller, now);
        return io && renderDiskstats(host.read("diskstats", now), io);
      }
      case "cpu-online":
      case "cpu-possible":
      case "cpu-present": {
        const cpu = numbers.cpu(caller, now);
        if (!cpu) return null;
        const count = visible(cpu).length;
        return view === "cpu-online"
          ? renderCpuOnline(count)
          : view === "cpu-possible"
            ? renderCpuPossible(count)
            : renderCpuPresent(count);
      }
      case "cpu-offline":
        return renderCpuOffline();
      case "pressure-cpu":
      case "pressure-memory":
      case "pressure-io":
      case "vmstat":
      case "slabinfo":
        return kernelStats(view, caller, now);
    }
  }

  const resolveOptions = (): CallerOptions => {
    nsInits.now = Date.now();
    return { layout, procRoot: options.procRoot, selfPidNs, selfCgroupNs, nsInits, pidNamespaces, onInitNamespaceError };
  };

  const containerText = (view: ViewName, caller: Caller, now: number): string => {
    if (caller.isHost) return hostView(view, now);
    loads.touch(caller.key, caller.paths);
    let text: string | null;
    try {
      text = numbers.rendered(caller, view, now, () => containerView(view, caller, now));
    } catch (err) {
      // Numbers are read failure-safe (ContainerNumbers); what is left is a view that cannot be
      // made of them, which must not cost the reader its file.
      report(describeProblem(`rendering ${view}`, caller.key, err));
      text = null;
    }
    // A controller that is not mounted yields no numbers: that view stays the host's.
    return text ?? hostView(view, now);
  };

  return { resolveOptions, hostView, containerText, ownKey };
}
