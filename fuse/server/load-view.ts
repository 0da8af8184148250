// Serving-thread side of the load averages. The thread never returns to its event loop (it is
// blocked reading /dev/fuse), so slot assignments are drained synchronously from its port.
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { CgroupPaths } from "../cgroup/caller.js";
import type { LoadNumbers } from "../cgroup/types.js";
import { toLoadNumbers, ZERO_LOADS } from "../load/decay.js";
import { LoadTable } from "./load-table.js";
import type { ServiceMessage } from "./worker-protocol.js";

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

  load(key: string, paths: CgroupPaths): LoadNumbers {
    this.drain();
    const assigned = this.slots.get(key);
    const fixed = assigned ? this.table.read(assigned.slot, assigned.id) : null;
    if (fixed) return toLoadNumbers(fixed);
    // Unknown, or its slot was recycled after its cgroup vanished and came back: (re)track it.
    if (assigned) this.slots.delete(key);
    if (!this.requested.has(key) || assigned) {
      this.requested.add(key);
      this.requestTracking(key, paths);
    }
    return toLoadNumbers(ZERO_LOADS);
  }

  private drain(): void {
    if (!this.port) return;
    for (let received = receiveMessageOnPort(this.port); received; received = receiveMessageOnPort(this.port)) {
      const message = received.message as ServiceMessage;
      if (message.type === "slot") this.slots.set(message.key, { slot: message.slot, id: message.id });
    }
  }
}
