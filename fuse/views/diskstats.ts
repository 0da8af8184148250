import type { IoDeviceNumbers } from "../cgroup/types.js";
import { bytesToSectors } from "./units.js";

// Field positions (0-based, after the device name) in block/genhd.c's diskstats_show, which the
// cgroup can fill; merges, times, in-flight and flushes are not accounted per cgroup and read 0.
const READS = 0;
const SECTORS_READ = 2;
const WRITES = 4;
const SECTORS_WRITTEN = 6;
const DISCARDS = 11;
const SECTORS_DISCARDED = 13;

function deviceKey(major: number, minor: number): number {
  // Minor numbers are 20 bits wide (MINORBITS).
  return major * 0x100000 + minor;
}

function skipSpaces(line: string, i: number): number {
  while (i < line.length && line.charCodeAt(i) === 32) i++;
  return i;
}

function skipWord(line: string, i: number): number {
  while (i < line.length && line.charCodeAt(i) !== 32) i++;
  return i;
}

/**
 * The container's /proc/diskstats: every device of the host's file, in the host's order, as the
 * kernel and LXCFS list them, with the cgroup's own counters (zeros for a device it did no I/O
 * on), so iostat and monitoring agents find the device list they expect. The text up to the
 * device name is kept byte for byte (the kernel's "%4d %7d %s"), and the host's count of fields
 * is kept, so parsers written for the running kernel's 11, 15 or 17 fields keep working.
 */
export function renderDiskstats(hostDiskstats: string, io: readonly IoDeviceNumbers[]): string {
  const byDevice = new Map<number, IoDeviceNumbers>();
  for (const d of io) byDevice.set(deviceKey(d.major, d.minor), d);
  const out: string[] = [];
  for (const line of hostDiskstats.split("\n")) {
    const majorStart = skipSpaces(line, 0);
    const majorEnd = skipWord(line, majorStart);
    const minorStart = skipSpaces(line, majorEnd);
    const minorEnd = skipWord(line, minorStart);
    const nameEnd = skipWord(line, skipSpaces(line, minorEnd));
    if (nameEnd === minorEnd) continue;
    let count = 0;
    for (let i = skipSpaces(line, nameEnd); i < line.length; i = skipSpaces(line, skipWord(line, i))) count++;
    const fields = new Array<number>(count).fill(0);
    const device = byDevice.get(deviceKey(Number(line.slice(majorStart, majorEnd)), Number(line.slice(minorStart, minorEnd))));
    if (device !== undefined) {
      setField(fields, READS, device.reads);
      setField(fields, SECTORS_READ, bytesToSectors(device.readBytes));
      setField(fields, WRITES, device.writes);
      setField(fields, SECTORS_WRITTEN, bytesToSectors(device.writeBytes));
      setField(fields, DISCARDS, device.discards);
      setField(fields, SECTORS_DISCARDED, bytesToSectors(device.discardBytes));
    }
    out.push(`${line.slice(0, nameEnd)} ${fields.join(" ")}\n`);
  }
  return out.join("");
}

function setField(fields: number[], index: number, value: number): void {
  if (index < fields.length) fields[index] = value;
}
