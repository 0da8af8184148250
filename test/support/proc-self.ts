// What /proc says of a process the tests started or are: its open descriptors, its threads.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** How many of this process's descriptors name a file under `dir`. */
export function openUnder(dir: string): number {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir + "/");
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

/** How many threads of process `pid` (default: this one) are named `name` (their comm). */
export function threadsNamed(name: string, pid: number | "self" = "self"): number {
  return readdirSync(`/proc/${pid}/task`).filter((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/comm`, "utf8").trim() === name;
    } catch {
      return false; // a thread that ended meanwhile
    }
  }).length;
}
