// Serving-thread side of the load averages and task counts. The thread never returns to its
// event loop (it is blocked reading /dev/fuse), so slot assignments are drained synchronously
// from its port.
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { CgroupPaths } from "../../cgroup/caller.js";
import type { LoadNumbers, TaskNumbers } from "../../cgroup/types.js";
import { toLoadNumbers, ZERO_LOADS } from "./decay.js";
import { LoadTable, type LoadEntry } from "./table.js";
import type { MainThreadMessage } from "../worker-protocol.js";

export interface SampledLoad {
  load: LoadNumbers;
  /** The last sample's task counts; null before the first one arrived. */
  tasks: TaskNumbers | null;
}

export class LoadView {
  private readonly slots = new Map<string, { slot: number; id: number }>();
  private readonly requested = new Set<string>();

  constructor(
    private readonly table: LoadTable,
    private readonly port: MessagePort | null,
    private readonly requestTracking: (key: string, paths: CgroupPaths) => void,
  ) {}

  /** Starts sampling a container from its first read of any file, so that its load average
   * already means something when it first reads /proc/loadavg. */
  touch(key: string, paths: CgroupPaths): void {
    if (!this.requested.has(key)) {
      this.requested.add(key);
      this.requestTracking(key, paths);
    }
  }

  sampled(key: string, paths: CgroupPaths): SampledLoad {
    const entry = this.entry(key, paths);
    return { load: toLoadNumbers(entry?.loads ?? ZERO_LOADS), tasks: entry?.tasks ?? null };
  }

  private entry(key: string, paths: CgroupPaths): LoadEntry | null {
    this.drain();
    const assigned = this.slots.get(key);
    const entry = assigned ? this.table.read(assigned.slot, assigned.id) : null;
    if (entry) return entry;
    // Its slot was recycled after its cgroup vanished, and it is back: track it again.
    if (assigned) {
      this.slots.delete(key);
      this.requested.delete(key);
    }
    this.touch(key, paths);
    return null;
  }

  private drain(): void {
    if (!this.port) return;
    for (let received = receiveMessageOnPort(this.port); received; received = receiveMessageOnPort(this.port)) {
      const message = received.message as MainThreadMessage;
      if (message.type === "slot") this.slots.set(message.key, { slot: message.slot, id: message.id });
    }
  }
}
