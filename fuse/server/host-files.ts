// The host's own files, which every view starts from. Re-read at most once per `maxAgeMs`:
// they change all the time, but not in ways a reader could tell within 100 ms.
import { readSmallFile } from "../cgroup/kept-files.js";
import { join } from "node:path";

export type HostFile =
  | "meminfo"
  | "cpuinfo"
  | "stat"
  | "uptime"
  | "diskstats"
  | "swaps"
  | "loadavg"
  | "cpu-online"
  | "pressure-cpu"
  | "pressure-memory"
  | "pressure-io"
  | "vmstat"
  | "slabinfo";

export class HostFiles {
  private readonly paths: Record<HostFile, string>;
  private readonly cached = new Map<HostFile, { at: number; text: string }>();

  constructor(
    procRoot: string,
    sysRoot: string,
    private readonly maxAgeMs: number,
  ) {
    const proc = (name: string) => join(procRoot, name);
    this.paths = {
      meminfo: proc("meminfo"),
      cpuinfo: proc("cpuinfo"),
      stat: proc("stat"),
      uptime: proc("uptime"),
      diskstats: proc("diskstats"),
      swaps: proc("swaps"),
      loadavg: proc("loadavg"),
      "cpu-online": join(sysRoot, "devices/system/cpu/online"),
      "pressure-cpu": proc("pressure/cpu"),
      "pressure-memory": proc("pressure/memory"),
      "pressure-io": proc("pressure/io"),
      vmstat: proc("vmstat"),
      slabinfo: proc("slabinfo"),
    };
  }

  read(file: HostFile, now: number): string {
    const hit = this.cached.get(file);
    if (hit && now - hit.at < this.maxAgeMs) return hit.text;
    const text = readSmallFile(this.paths[file]);
    this.cached.set(file, { at: now, text });
    return text;
  }
}

/** A `Key:  N kB` value of a meminfo text, in bytes (0 when absent). */
export function meminfoBytes(meminfo: string, key: string): number {
  const at = meminfo.indexOf(`\n${key}:`);
  const start = at >= 0 ? at + key.length + 2 : meminfo.startsWith(`${key}:`) ? key.length + 1 : -1;
  if (start < 0) return 0;
  const end = meminfo.indexOf("\n", start);
  return Number.parseInt(meminfo.slice(start, end < 0 ? undefined : end).trim(), 10) * 1024 || 0;
}

/** First field of /proc/uptime, in seconds. */
export function uptimeSeconds(uptime: string): number {
  return Number.parseFloat(uptime);
}
