// Pressure stall information (PSI) of a container's cgroup2 cgroup: `cpu.pressure`,
// `memory.pressure`, `io.pressure`. The kernel keeps PSI per cgroup2 cgroup, also on hybrid hosts
// whose controllers are all on v1 (runc places containers in the cgroup2 hierarchy there too).
import type { CgroupLayout } from "./layout.js";
import { CgroupReadError, cgroupDir, readCgroupFile } from "./read.js";

export type PressureResource = "cpu" | "memory" | "io";

/** One line of a pressure file: the share of time some (or all) tasks stalled, averaged over 10,
 * 60 and 300 s, in hundredths of a percent as the kernel prints them, and the total stall time. */
export interface PressureLine {
  avg10Hundredths: number;
  avg60Hundredths: number;
  avg300Hundredths: number;
  totalUs: number;
}

export interface PressureNumbers {
  some: PressureLine;
  /** null where the kernel prints no "full" line (cpu before 5.13). */
  full: PressureLine | null;
}

// "some avg10=0.12 avg60=3.45 avg300=6.78 total=123456": kernel/sched/psi.c prints the averages
// as %lu.%02lu and the total, in microseconds, as %llu.
const LINE = /^(some|full) avg10=(\d+)\.(\d\d) avg60=(\d+)\.(\d\d) avg300=(\d+)\.(\d\d) total=(\d+)$/;

/** A `*.pressure` (or /proc/pressure/*) text → numbers; throws naming `path` on anything else. */
export function parsePressure(text: string, path: string): PressureNumbers {
  let some: PressureLine | null = null;
  let full: PressureLine | null = null;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const m = LINE.exec(line);
    if (m === null) throw new CgroupReadError(path, `not a pressure line: ${JSON.stringify(line)}`);
    const hundredths = (whole: string, fraction: string) => Number(whole) * 100 + Number(fraction);
    const parsed: PressureLine = {
      avg10Hundredths: hundredths(m[2]!, m[3]!),
      avg60Hundredths: hundredths(m[4]!, m[5]!),
      avg300Hundredths: hundredths(m[6]!, m[7]!),
      totalUs: Number(m[8]),
    };
    if (m[1] === "some") some = parsed;
    else full = parsed;
  }
  if (some === null) throw new CgroupReadError(path, 'no "some" line');
  return { some, full };
}

/** Errors of a pressure file the kernel offers but will not show: PSI switched off for the
 * cgroup (cgroup.pressure 0) or at boot (psi=0). */
const NOT_SHOWN = new Set(["EOPNOTSUPP", "ENOTSUP"]);

/**
 * The pressure of `resource` in the container's cgroup2 cgroup `unified` (Caller.unified), or null
 * when there is none to show: no cgroup2 hierarchy, the reader in none or in its root (the host's
 * own file is then the same numbers), the cgroup gone, or PSI not kept for it. Never an ancestor's:
 * a parent's pressure sums its other children, which may be other tenants.
 */
export function readPressureNumbers(layout: CgroupLayout, unified: string | null, resource: PressureResource): PressureNumbers | null {
  if (layout.unifiedDir === null || unified === null || unified === "/") return null;
  const path = `${cgroupDir(layout.unifiedDir, unified)}/${resource}.pressure`;
  let text: string | null;
  try {
    text = readCgroupFile(path);
  } catch (err) {
    if (err instanceof CgroupReadError && NOT_SHOWN.has((err.cause as NodeJS.ErrnoException | undefined)?.code ?? "")) return null;
    throw err;
  }
  return text === null ? null : parsePressure(text, path);
}
