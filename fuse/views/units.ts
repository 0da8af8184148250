// Formatting helpers shared by the views. Numbers only, no I/O.

/** Bytes to whole KiB, the unit /proc prints; truncates like the kernel's `>> 10`. */
export function bytesToKb(bytes: number): number {
  return bytes > 0 ? Math.floor(bytes / 1024) : 0;
}

/** Bytes to 512-byte sectors, the unit of /proc/diskstats whatever the device's real sector size. */
export function bytesToSectors(bytes: number): number {
  return bytes > 0 ? Math.floor(bytes / 512) : 0;
}

/** An integer count of hundredths as `I.FF`, the kernel's `%lu.%02lu`; negative counts clamp to 0 as the kernel's are unsigned. */
export function formatHundredths(hundredths: number): string {
  const h = hundredths > 0 ? Math.floor(hundredths) : 0;
  const frac = h % 100;
  return `${(h - frac) / 100}.${frac < 10 ? "0" : ""}${frac}`;
}

/** Integer ticks from nanoseconds, truncated like the kernel's nsec_to_clock_t. */
export function nsToTicks(ns: number, ticksPerSecond: number): number {
  return ns > 0 ? Math.floor((ns * ticksPerSecond) / 1e9) : 0;
}
