import { formatCpuRange } from "./cpus.js";

// glibc's get_nprocs() reads online, sysconf(_SC_NPROCESSORS_CONF) possible/present and tools
// such as lscpu compare them; all three show the same renumbered CPUs as /proc/cpuinfo, unlike
// LXCFS, which leaves possible/present as the host's.

/** /sys/devices/system/cpu/online for a view of `visibleCount` CPUs numbered from 0. */
export function renderCpuOnline(visibleCount: number): string {
  return formatCpuRange(visibleCount) + "\n";
}

export function renderCpuPossible(visibleCount: number): string {
  return renderCpuOnline(visibleCount);
}

export function renderCpuPresent(visibleCount: number): string {
  return renderCpuOnline(visibleCount);
}

/** No CPU of the view is offline; the kernel prints an empty list as a lone newline. */
export function renderCpuOffline(): string {
  return "\n";
}
