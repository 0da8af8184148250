import type { CpuNumbers } from "../cgroup/types.js";

/** Formats ascending ids the way the kernel's `%*pbl` does: runs of two or more become "a-b". */
export function formatCpuList(ids: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < ids.length) {
    const first = ids[i]!;
    let last = first;
    while (i + 1 < ids.length && ids[i + 1] === last + 1) last = ids[++i]!;
    parts.push(first === last ? `${first}` : `${first}-${last}`);
    i++;
  }
  return parts.join(",");
}

/** "0-(count-1)", the list of a renumbered view; at least "0" because a machine always has a CPU. */
export function formatCpuRange(count: number): string {
  return count <= 1 ? "0" : `0-${count - 1}`;
}

/**
 * The host CPUs the container is shown. With useQuota, a quota of q/p CPUs shows ceil(q/p)
 * of them — the most CPUs it can keep busy at once — so thread pools sized from nproc fit the quota.
 */
export function visibleCpus(cpu: CpuNumbers, opts: { useQuota: boolean }): number[] {
  const set = cpu.cpuset;
  const quota = cpu.quota;
  if (!opts.useQuota || quota === null || !(quota.quotaUs > 0) || !(quota.periodUs > 0)) return set;
  const wanted = Math.max(1, Math.ceil(quota.quotaUs / quota.periodUs));
  return wanted >= set.length ? set : set.slice(0, wanted);
}
