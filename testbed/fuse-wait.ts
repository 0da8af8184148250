// Shared by the lxcfs and procview starters: wait until a FUSE source serves
// proc/meminfo, and unmount it afterwards whatever state it is in.
import { execa } from "execa";
import { mountsAt } from "../core/mountinfo.js";

/** Poll <dir>/proc/meminfo (in a child with a timeout, so a hung server cannot hang the test) until it starts with MemTotal:. */
export async function waitForMeminfo(dir: string, timeoutMs: number, gaveUp: () => boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    if (gaveUp()) throw new Error("the server exited");
    const r = await execa("head", ["-c", "16", `${dir}/proc/meminfo`], { reject: false, timeout: 1000, killSignal: "SIGKILL" });
    if (r.exitCode === 0 && String(r.stdout).startsWith("MemTotal:")) return;
    last = String(r.stderr).trim() || `exit ${r.exitCode}`;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${dir}/proc/meminfo not readable after ${timeoutMs} ms (${last})`);
}

/** From mountinfo, not `mountpoint -q`: that stats the directory, which fails (ENOTCONN) on
 * exactly the dead mounts a test most needs to remove. */
export function isMountpoint(dir: string): Promise<boolean> {
  return Promise.resolve(mountsAt(dir).length > 0);
}

export async function unmountQuietly(dir: string): Promise<void> {
  for (let i = 0; i < 20 && (await isMountpoint(dir)); i++) {
    const r = await execa("fusermount3", ["-u", "-z", dir], { reject: false, timeout: 2000 });
    if (r.exitCode !== 0) await execa("umount", ["-l", dir], { reject: false, timeout: 2000 });
    await new Promise((res) => setTimeout(res, 50));
  }
}
