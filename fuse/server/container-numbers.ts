// A container's cgroup numbers, read lazily per kind and reused for a short time. The cache is
// keyed by the container key (its cgroup paths), so one container's numbers are never served to
// another; each serving thread keeps its own cache. A read that fails unexpectedly is reported
// and replaced by the nearest ancestor's numbers (see cgroup/ancestors.ts); null means the
// host's files are shown.
import type { CgroupLayout } from "../cgroup/layout.js";
import { keyOf, type Caller, type CgroupPaths } from "../cgroup/caller.js";
import { readOrAncestor } from "../cgroup/ancestors.js";
import { describeProblem, type Problem } from "./problems.js";
import type { CpuNumbers, IoDeviceNumbers, MemoryNumbers, TaskNumbers } from "../cgroup/types.js";
import { readMemoryNumbers } from "../cgroup/memory.js";
import { readCpuNumbers } from "../cgroup/cpu.js";
import { readIoNumbers } from "../cgroup/io.js";
import { readTaskNumbers } from "../cgroup/tasks.js";

interface Entry {
  at: number;
  /** Views already rendered from these numbers, by view and ns-init start (uptime and stat
   * depend on which pid namespace reads): a repeated read costs a map lookup. */
  rendered?: Map<string, string>;
  memory?: MemoryNumbers | null;
  cpu?: CpuNumbers | null;
  io?: IoDeviceNumbers[] | null;
  tasks?: TaskNumbers | null;
}

const MAX_ENTRIES = 2048;

export class ContainerNumbers {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly layout: CgroupLayout,
    private readonly procRoot: string,
    private readonly sysRoot: string,
    private readonly maxAgeMs: number,
    private readonly report: (problem: Problem) => void,
  ) {}

  memory(caller: Caller, now: number): MemoryNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.memory === undefined) entry.memory = this.read("memory", caller, (paths) => readMemoryNumbers(this.layout, paths));
    return entry.memory;
  }

  cpu(caller: Caller, now: number): CpuNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.cpu === undefined) entry.cpu = this.read("cpu", caller, (paths) => readCpuNumbers(this.layout, paths, this.sysRoot));
    return entry.cpu;
  }

  io(caller: Caller, now: number): IoDeviceNumbers[] | null {
    const entry = this.entry(caller.key, now);
    if (entry.io === undefined) entry.io = this.read("io", caller, (paths) => readIoNumbers(this.layout, paths));
    return entry.io;
  }

  tasks(caller: Caller, now: number): TaskNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.tasks === undefined) entry.tasks = this.read("tasks", caller, (paths) => readTaskNumbers(this.layout, paths, this.procRoot));
    return entry.tasks;
  }

  private read<T>(what: string, caller: Caller, read: (paths: CgroupPaths) => T | null): T | null {
    const value = readOrAncestor(caller.paths, read, (err, failed) =>
      this.report(describeProblem(`reading ${what} numbers (the nearest ancestor's are shown)`, keyOf(failed), err)),
    );
    return value ?? null;
  }

  /** The text of `view` rendered for this container within the cache lifetime, or render it now. */
  rendered(caller: Caller, view: string, now: number, render: () => string | null): string | null {
    const entry = this.entry(caller.key, now);
    const id = `${view}@${caller.nsInitStartTicks}`;
    const hit = entry.rendered?.get(id);
    if (hit !== undefined) return hit;
    const text = render();
    if (text !== null) (entry.rendered ??= new Map()).set(id, text);
    return text;
  }

  private entry(key: string, now: number): Entry {
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.maxAgeMs) return hit;
    if (this.entries.size >= MAX_ENTRIES) this.evictOlderThan(now - this.maxAgeMs);
    const fresh: Entry = { at: now };
    this.entries.set(key, fresh);
    return fresh;
  }

  private evictOlderThan(limit: number): void {
    for (const [key, entry] of this.entries) if (entry.at < limit) this.entries.delete(key);
    // Still full of fresh entries (a burst over MAX_ENTRIES containers): start over.
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
  }
}
