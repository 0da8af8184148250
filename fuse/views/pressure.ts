import type { PressureLine, PressureNumbers } from "../cgroup/pressure.js";

/** Hundredths as the kernel prints a PSI average (%lu.%02lu): 1234 → "12.34". */
function average(hundredths: number): string {
  return `${Math.floor(hundredths / 100)}.${String(hundredths % 100).padStart(2, "0")}`;
}

function line(kind: "some" | "full", p: PressureLine): string {
  return `${kind} avg10=${average(p.avg10Hundredths)} avg60=${average(p.avg60Hundredths)} avg300=${average(p.avg300Hundredths)} total=${p.totalUs}\n`;
}

/** /proc/pressure/{cpu,memory,io} for a container: its cgroup's own pressure, in the kernel's format. */
export function renderPressure(p: PressureNumbers): string {
  return line("some", p.some) + (p.full === null ? "" : line("full", p.full));
}
