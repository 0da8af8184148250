// A container's cgroup numbers, read lazily per kind and reused for a short time. The cache is
// keyed by the container key (its cgroup paths), so one container's numbers are never served to
// another; each serving thread keeps its own cache.
import type { CgroupLayout } from "../cgroup/layout.js";
import type { Caller } from "../cgroup/caller.js";
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
  ) {}

  memory(caller: Caller, now: number): MemoryNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.memory === undefined) entry.memory = readMemoryNumbers(this.layout, caller.paths);
    return entry.memory;
  }

  cpu(caller: Caller, now: number): CpuNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.cpu === undefined) entry.cpu = readCpuNumbers(this.layout, caller.paths, this.sysRoot);
    return entry.cpu;
  }

  io(caller: Caller, now: number): IoDeviceNumbers[] | null {
    const entry = this.entry(caller.key, now);
    if (entry.io === undefined) entry.io = readIoNumbers(this.layout, caller.paths);
    return entry.io;
  }

  tasks(caller: Caller, now: number): TaskNumbers | null {
    const entry = this.entry(caller.key, now);
    if (entry.tasks === undefined) entry.tasks = readTaskNumbers(this.layout, caller.paths, this.procRoot);
    return entry.tasks;
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
