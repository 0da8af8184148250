// /proc/cpuinfo is a series of blocks separated by blank lines. On x86, arm64, ppc64 and riscv
// each CPU's block carries "processor\t: N"; anything else (s390x's header, ppc64's trailing
// machine block, arm32's "Hardware" block) is not about one CPU and is kept as is.

/** Splits `key<tabs/spaces>: value` and returns the key and the index where the value starts, or null. */
function field(line: string): { key: string; valueStart: number } | null {
  const colon = line.indexOf(":");
  if (colon < 0) return null;
  const valueStart = line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1;
  return { key: line.slice(0, colon).trimEnd(), valueStart };
}

/** The host CPU id a block describes, or null when the block is not one CPU's. */
function processorOf(lines: readonly string[], from: number, to: number): number | null {
  for (let i = from; i < to; i++) {
    const f = field(lines[i]!);
    if (f === null || f.key !== "processor") continue;
    const value = lines[i]!.slice(f.valueStart);
    // s390x writes "processor 0: version = …" in its header, whose key is not "processor".
    if (/^\d+$/.test(value)) return Number(value);
  }
  return null;
}

/**
 * The container's /proc/cpuinfo: only the blocks of its visible host CPUs, renumbered from 0 in
 * host order (which is ascending), with x86's `siblings` and `cpu cores` cut to the number shown,
 * so tools counting threads and cores per package agree with the number of processors.
 */
export function renderCpuinfo(hostCpuinfo: string, visibleHostCpuIds: readonly number[]): string {
  const visible = new Set(visibleHostCpuIds);
  const shown = visible.size;
  // Dropping the text's final newline makes every block, the last included, "lines + its blank
  // separators", so a dropped last block does not take the kept ones' closing blank line with it.
  const endsWithNewline = hostCpuinfo.endsWith("\n");
  const lines = (endsWithNewline ? hostCpuinfo.slice(0, -1) : hostCpuinfo).split("\n");
  const out: string[] = [];
  let next = 0;
  let i = 0;
  while (i < lines.length) {
    // Blank lines before the first block belong to nothing and pass through.
    if (lines[i] === "") {
      out.push("");
      i++;
      continue;
    }
    const start = i;
    while (i < lines.length && lines[i] !== "") i++;
    const end = i;
    while (i < lines.length && lines[i] === "") i++;
    const hostId = processorOf(lines, start, end);
    if (hostId === null) {
      for (let j = start; j < i; j++) out.push(lines[j]!);
    } else if (visible.has(hostId)) {
      const id = next++;
      for (let j = start; j < end; j++) out.push(renumbered(lines[j]!, id, shown));
      for (let j = end; j < i; j++) out.push("");
    }
  }
  const text = out.join("\n");
  return endsWithNewline ? text + "\n" : text;
}

function renumbered(line: string, id: number, shown: number): string {
  const f = field(line);
  if (f === null) return line;
  if (f.key === "processor") return line.slice(0, f.valueStart) + id;
  if (f.key === "siblings" || f.key === "cpu cores") {
    const original = Number(line.slice(f.valueStart));
    if (Number.isInteger(original) && original > shown) return line.slice(0, f.valueStart) + shown;
  }
  return line;
}
