// CPU view of a container: which CPUs (cpuset), how much of them (CFS quota), time used.
import { join } from "node:path";
import type { CpuNumbers, CpuQuota, CpuTime } from "./types.js";
import type { CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { CgroupReadError, cgroupDir, parseFlatKeyed, readCgroupFile, readCgroupValue, selfAndAncestors } from "./read.js";

/** USER_HZ is 100 on every Linux ABI; cpuacct.stat counts in it. */
const NS_PER_USER_HZ_TICK = 10_000_000;

/** Kernel CPU list ("0-3,5,7-8", "" or "\n" for none) → ascending unique ids. Anything else
 * throws, so a misread file is never taken as "no CPUs" or as CPU 0. */
export function parseCpuList(text: string, where = "cpu list"): number[] {
  const out: number[] = [];
  const trimmed = text.trim();
  if (trimmed === "") return out;
  const id = (digits: string): number => {
    if (!/^\d+$/.test(digits)) throw new CgroupReadError(where, `bad CPU list ${JSON.stringify(trimmed)}`);
    return Number(digits);
  };
  for (const part of trimmed.split(",")) {
    const dash = part.indexOf("-");
    const from = id(dash < 0 ? part : part.slice(0, dash));
    const to = dash < 0 ? from : id(part.slice(dash + 1));
    if (to < from || to - from > 65536) throw new CgroupReadError(where, `bad CPU list ${JSON.stringify(trimmed)}`);
    for (let cpu = from; cpu <= to; cpu++) out.push(cpu);
  }
  out.sort((a, b) => a - b);
  return out.filter((cpu, i) => i === 0 || out[i - 1] !== cpu);
}

/** Effective cpuset: nearest non-empty value from the cgroup upward (on v2, cgroups without the
 * cpuset controller have no cpuset files and are passed over), else the host's online CPUs. */
export function readCpuset(layout: CgroupLayout, path: string, sysRoot = "/sys"): number[] {
  const mount = layout.mounts.cpuset;
  if (mount !== undefined) {
    const [effective, configured] =
      mount.version === 1 ? ["cpuset.effective_cpus", "cpuset.cpus"] : ["cpuset.cpus.effective", "cpuset.cpus"];
    for (const p of selfAndAncestors(path)) {
      const dir = cgroupDir(mount.dir, p);
      for (const file of [effective, configured]) {
        const where = `${dir}/${file}`;
        const text = readCgroupFile(where);
        if (text === null) continue;
        const cpus = parseCpuList(text, where);
        if (cpus.length > 0) return cpus;
      }
    }
  }
  const online = join(sysRoot, "devices/system/cpu/online");
  const text = readCgroupFile(online);
  if (text === null) throw new CgroupReadError(online, "no cpuset anywhere and no online CPU list");
  return parseCpuList(text, online);
}

/** v1 cfs_quota_us + cfs_period_us texts → quota, null for -1 or an empty file (none). */
export function parseV1Quota(quotaText: string, periodText: string, where = "cpu.cfs_quota_us"): CpuQuota | null {
  if (quotaText.trim() === "" || periodText.trim() === "") return null;
  const quotaUs = Number(quotaText.trim());
  const periodUs = Number(periodText.trim());
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs)) throw new CgroupReadError(where, "bad quota/period");
  return quotaUs < 0 || periodUs <= 0 ? null : { quotaUs, periodUs };
}

/** v2 cpu.max ("max 100000" or "50000 100000") → quota, null for max or an empty file. */
export function parseCpuMax(text: string, where = "cpu.max"): CpuQuota | null {
  const [quota, period] = text.trim().split(" ");
  if (quota === "max" || quota === "" || quota === undefined) return null;
  const quotaUs = Number(quota);
  const periodUs = Number(period ?? "100000");
  if (!Number.isFinite(quotaUs) || !Number.isFinite(periodUs)) throw new CgroupReadError(where, `bad cpu.max ${JSON.stringify(text)}`);
  return periodUs <= 0 ? null : { quotaUs, periodUs };
}

/** Tightest quota/period ratio from the cgroup up to the root. On v2 only cgroups with the cpu
 * controller have cpu.max, so the walk passes over the others. */
export function readQuota(layout: CgroupLayout, path: string): CpuQuota | null {
  const mount = layout.mounts.cpu;
  if (mount === undefined) return null;
  let best: CpuQuota | null = null;
  for (const p of selfAndAncestors(path)) {
    const dir = cgroupDir(mount.dir, p);
    let quota: CpuQuota | null;
    if (mount.version === 1) {
      const q = readCgroupValue(`${dir}/cpu.cfs_quota_us`);
      const period = readCgroupValue(`${dir}/cpu.cfs_period_us`);
      quota = q === null || period === null ? null : parseV1Quota(q, period, `${dir}/cpu.cfs_quota_us`);
    } else {
      const max = readCgroupValue(`${dir}/cpu.max`);
      quota = max === null ? null : parseCpuMax(max, `${dir}/cpu.max`);
    }
    if (quota !== null && (best === null || quota.quotaUs * best.periodUs < best.quotaUs * quota.periodUs)) best = quota;
  }
  return best;
}

/** cpuacct.usage_all ("cpu user system" header, then "<cpu> <user ns> <system ns>") → total and per CPU. */
export function parseUsageAll(text: string, where = "cpuacct.usage_all"): { usage: CpuTime; perCpu: Map<number, CpuTime> } {
  const perCpu = new Map<number, CpuTime>();
  let userNs = 0;
  let systemNs = 0;
  // The first line is the header ("cpu user system").
  for (const line of text.split("\n").slice(1)) {
    if (line === "") continue;
    const [cpu, user, system] = line.split(" ");
    const time = { userNs: Number(user), systemNs: Number(system) };
    if (!Number.isFinite(time.userNs) || !Number.isFinite(time.systemNs))
      throw new CgroupReadError(where, `bad line ${JSON.stringify(line)}`);
    perCpu.set(Number(cpu), time);
    userNs += time.userNs;
    systemNs += time.systemNs;
  }
  return { usage: { userNs, systemNs }, perCpu };
}

/** cpuacct.stat ("user N", "system N", USER_HZ ticks) → ns. */
export function parseCpuacctStat(text: string): CpuTime {
  const map = parseFlatKeyed(text);
  return { userNs: (map.get("user") ?? 0) * NS_PER_USER_HZ_TICK, systemNs: (map.get("system") ?? 0) * NS_PER_USER_HZ_TICK };
}

/** v2 cpu.stat (user_usec, system_usec) → ns. */
export function parseCpuStatV2(text: string): CpuTime {
  const map = parseFlatKeyed(text);
  return { userNs: (map.get("user_usec") ?? 0) * 1000, systemNs: (map.get("system_usec") ?? 0) * 1000 };
}

/** Usage; null when the cgroup is gone or no accounting file exists. */
export function readCpuUsage(layout: CgroupLayout, paths: CgroupPaths): { usage: CpuTime; perCpu: Map<number, CpuTime> | null } | null {
  const mount = layout.mounts.cpuacct ?? layout.mounts.cpu;
  // No accounting controller at all: zeros rather than hiding cpuset and quota.
  if (mount === undefined) return { usage: { userNs: 0, systemNs: 0 }, perCpu: null };
  const path = layout.mounts.cpuacct !== undefined ? paths.cpuacct : paths.cpu;
  const dir = cgroupDir(mount.dir, path);
  if (mount.version === 2) {
    // cpu.stat is a core file: every cgroup has its own usage, with or without the cpu controller.
    const text = readCgroupFile(`${dir}/cpu.stat`);
    return text === null ? null : { usage: parseCpuStatV2(text), perCpu: null };
  }
  const all = readCgroupFile(`${dir}/cpuacct.usage_all`);
  if (all !== null) return parseUsageAll(all, `${dir}/cpuacct.usage_all`);
  const stat = readCgroupFile(`${dir}/cpuacct.stat`);
  return stat === null ? null : { usage: parseCpuacctStat(stat), perCpu: null };
}

/** null when the cgroup is gone (no usage file). */
export function readCpuNumbers(layout: CgroupLayout, paths: CgroupPaths, sysRoot = "/sys"): CpuNumbers | null {
  const usage = readCpuUsage(layout, paths);
  if (usage === null) return null;
  return {
    cpuset: readCpuset(layout, paths.cpuset, sysRoot),
    quota: readQuota(layout, paths.cpu),
    usage: usage.usage,
    usagePerCpu: usage.perCpu,
  };
}
