import type { CpuNumbers } from "../cgroup/types.js";

/**
 * Parses the kernel's cpu list syntax ("0-3,5", "" for none) into ascending unique ids.
 * Throws on anything else, so a misread cgroup file is not silently taken as "no CPUs".
 */
export function parseCpuList(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  const ids: number[] = [];
  for (const part of trimmed.split(",")) {
    const dash = part.indexOf("-");
    const first = toCpuId(dash < 0 ? part : part.slice(0, dash), text);
    const last = dash < 0 ? first : toCpuId(part.slice(dash + 1), text);
    if (last < first) throw new RangeError(`invalid cpu list: ${JSON.stringify(text)}`);
    for (let id = first; id <= last; id++) ids.push(id);
  }
  ids.sort((a, b) => a - b);
  // Overlapping ranges ("0-2,1") are legal input; drop the repeats in place after sorting.
  let kept = 0;
  for (let i = 0; i < ids.length; i++) {
    if (i === 0 || ids[i] !== ids[i - 1]) ids[kept++] = ids[i]!;
  }
  ids.length = kept;
  return ids;
}

function toCpuId(text: string, whole: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new RangeError(`invalid cpu list: ${JSON.stringify(whole)}`);
  return Number(t);
}

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
