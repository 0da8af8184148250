// Absolute paths of the programs the hook runs. runc starts hooks with exactly
// the env of the hook entry, which may have no PATH at all, so the hook never
// relies on PATH lookup.
import { accessSync, constants } from "node:fs";

const SYSTEM_DIRS = ["/usr/bin", "/bin", "/usr/sbin", "/sbin"];

const cache = new Map<string, string>();

/** Find `name` in the standard system directories; throws with context when absent. */
export function tool(name: string): string {
  const hit = cache.get(name);
  if (hit) return hit;
  for (const dir of SYSTEM_DIRS) {
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      cache.set(name, candidate);
      return candidate;
    } catch {
      // try the next directory
    }
  }
  throw new Error(`required program ${name} not found in ${SYSTEM_DIRS.join(":")}`);
}
