// Block I/O per device for a container cgroup (already hierarchical in the files we pick).
import type { IoDeviceNumbers } from "./types.js";
import { chargedPath, type CgroupLayout } from "./layout.js";
import type { CgroupPaths } from "./caller.js";
import { cgroupDir, readCgroupFile } from "./read.js";

function device(map: Map<string, IoDeviceNumbers>, dev: string): IoDeviceNumbers | null {
  let entry = map.get(dev);
  if (entry !== undefined) return entry;
  const colon = dev.indexOf(":");
  if (colon <= 0) return null;
  const major = Number(dev.slice(0, colon));
  const minor = Number(dev.slice(colon + 1));
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return null;
  entry = { major, minor, readBytes: 0, writeBytes: 0, reads: 0, writes: 0, discardBytes: 0, discards: 0 };
  map.set(dev, entry);
  return entry;
}

/**
 * One v1 blkg_rwstat file ("8:0 Read 123", … "8:0 Total 579", then a bare "Total 579") folded
 * into `map`, as bytes or as operation counts. Returns how many device lines it held.
 */
export function foldV1RwStat(text: string, map: Map<string, IoDeviceNumbers>, kind: "bytes" | "ios"): number {
  let lines = 0;
  for (const line of text.split("\n")) {
    const a = line.indexOf(" ");
    if (a <= 0) continue;
    const b = line.indexOf(" ", a + 1);
    if (b < 0) continue; // the trailing "Total N"
    const op = line.slice(a + 1, b);
    if (op !== "Read" && op !== "Write" && op !== "Discard") continue;
    const entry = device(map, line.slice(0, a));
    if (entry === null) continue;
    const value = Number(line.slice(b + 1));
    if (!Number.isFinite(value)) continue;
    lines++;
    if (kind === "bytes") {
      if (op === "Read") entry.readBytes = value;
      else if (op === "Write") entry.writeBytes = value;
      else entry.discardBytes = value;
    } else if (op === "Read") entry.reads = value;
    else if (op === "Write") entry.writes = value;
    else entry.discards = value;
  }
  return lines;
}

/** v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=5 dios=6") → devices. */
export function parseIoStat(text: string): IoDeviceNumbers[] {
  const map = new Map<string, IoDeviceNumbers>();
  for (const line of text.split("\n")) {
    const [name, ...counters] = line.split(" ");
    if (name === undefined || counters.length === 0) continue;
    const entry = device(map, name);
    if (entry === null) continue;
    for (const counter of counters) {
      const eq = counter.indexOf("=");
      if (eq <= 0) continue;
      const value = Number(counter.slice(eq + 1));
      if (!Number.isFinite(value)) continue;
      switch (counter.slice(0, eq)) {
        case "rbytes":
          entry.readBytes = value;
          break;
        case "wbytes":
          entry.writeBytes = value;
          break;
        case "rios":
          entry.reads = value;
          break;
        case "wios":
          entry.writes = value;
          break;
        case "dbytes":
          entry.discardBytes = value;
          break;
        case "dios":
          entry.discards = value;
          break;
      }
    }
  }
  return sorted(map);
}

function sorted(map: Map<string, IoDeviceNumbers>): IoDeviceNumbers[] {
  return [...map.values()].sort((x, y) => x.major - y.major || x.minor - y.minor);
}

/**
 * v1 file pairs in order of preference: the throttle files count every bio on current kernels
 * (recursive = the container and its sub-cgroups); bfq ones only when bfq schedules the disk.
 * The first pair whose files hold any device line wins.
 */
const V1_PAIRS: [bytes: string, ios: string][] = [
  ["blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"],
  ["blkio.throttle.io_service_bytes", "blkio.throttle.io_serviced"],
  ["blkio.bfq.io_service_bytes_recursive", "blkio.bfq.io_serviced_recursive"],
  ["blkio.bfq.io_service_bytes", "blkio.bfq.io_serviced"],
];

/** Devices sorted by major:minor; [] when nothing was recorded; null when the cgroup is gone or
 * its I/O is the host's (v2: io is charged to the root, the nearest cgroup that has it). */
export function readIoNumbers(layout: CgroupLayout, paths: CgroupPaths): IoDeviceNumbers[] | null {
  const mount = layout.mounts.blkio;
  if (mount === undefined) return [];
  const dir = cgroupDir(mount.dir, paths.blkio);
  if (mount.version === 2) {
    if (paths.blkio === "/") return null;
    const text = readCgroupFile(`${dir}/io.stat`);
    if (text !== null) return parseIoStat(text);
    // io not enabled for this cgroup: its I/O is charged to the nearest ancestor that has it.
    const charged = chargedPath(layout, "blkio", paths.blkio);
    if (charged === null || charged === "/" || charged === paths.blkio) return null;
    const above = readCgroupFile(`${cgroupDir(mount.dir, charged)}/io.stat`);
    return above === null ? null : parseIoStat(above);
  }
  let anyFile = false;
  for (const [bytesFile, iosFile] of V1_PAIRS) {
    const bytes = readCgroupFile(`${dir}/${bytesFile}`);
    const ios = readCgroupFile(`${dir}/${iosFile}`);
    if (bytes === null && ios === null) continue;
    anyFile = true;
    const map = new Map<string, IoDeviceNumbers>();
    const lines = (bytes === null ? 0 : foldV1RwStat(bytes, map, "bytes")) + (ios === null ? 0 : foldV1RwStat(ios, map, "ios"));
    if (lines > 0) return sorted(map);
  }
  return anyFile ? [] : null;
}
