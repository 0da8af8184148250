// Recently seen pid namespaces and their init, kept for a short time. The inode number in
// "pid:[N]" can be reused by a new namespace once the old one is gone, so entries expire.
import type { NsInit, NsInitCache } from "../cgroup/caller.js";

const MAX_ENTRIES = 4096;

export class ExpiringNsInitCache implements NsInitCache {
  private readonly entries = new Map<string, { at: number; init: NsInit }>();
  now = Date.now();

  constructor(private readonly maxAgeMs: number) {}

  get(pidNs: string): NsInit | undefined {
    const hit = this.entries.get(pidNs);
    return hit && this.now - hit.at < this.maxAgeMs ? hit.init : undefined;
  }

  set(pidNs: string, init: NsInit): void {
    const hit = this.entries.get(pidNs);
    if (hit && hit.init === init) return;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(pidNs, { at: this.now, init });
  }
}
