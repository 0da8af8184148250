// The containerd builds the tests run: the system's (containerd 1.7 from Debian trixie,
// installed by system-deps.ts on Debian 12, the machine's own on Debian 13) and Debian sid's
// containerd 2.x, unpacked by system-deps.ts into a private prefix and never installed.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { ContainerdLine } from "../../install/containerd-config.js";

export type { ContainerdLine };

export interface ContainerdBuild {
  line: ContainerdLine;
  /** The containerd binary. */
  containerd: string;
  /** Put first on containerd's PATH: where its containerd-shim-runc-v2 (and ctr) are. */
  binDir: string;
  ctr: string;
  /** The Debian package version it came from. */
  version: string;
}

/** Where system-deps.ts unpacks sid's containerd: <prefix>/usr/bin/{containerd,containerd-shim-runc-v2,ctr}. */
export const SID_CONTAINERD_PREFIX = "/var/lib/procview-test/containerd-sid";
/** The Debian version of what is unpacked there, written last (a half-unpacked prefix has none). */
export const SID_CONTAINERD_VERSION_FILE = path.join(SID_CONTAINERD_PREFIX, "VERSION");
/** The private apt state used to download it (sources, lists, cache): the machine's apt is not touched. */
export const SID_APT_DIR = "/var/lib/procview-test/apt-sid";

const SET_UP = "npm test sets it up (node dist/test/support/system-deps.js)";

export function containerdBuild(line: ContainerdLine): ContainerdBuild {
  if (line === "1.7") {
    if (!existsSync("/usr/bin/containerd")) throw new Error(`containerd 1.7 is not installed; ${SET_UP}`);
    const version = execFileSync("dpkg-query", ["-W", "-f=${Version}", "containerd"], { encoding: "utf8" }).trim();
    return { line, containerd: "/usr/bin/containerd", binDir: "/usr/bin", ctr: "/usr/bin/ctr", version };
  }
  if (!existsSync(SID_CONTAINERD_VERSION_FILE)) throw new Error(`containerd 2 is not unpacked in ${SID_CONTAINERD_PREFIX}; ${SET_UP}`);
  const bin = path.join(SID_CONTAINERD_PREFIX, "usr", "bin");
  return {
    line,
    containerd: path.join(bin, "containerd"),
    binDir: bin,
    ctr: path.join(bin, "ctr"),
    version: readFileSync(SID_CONTAINERD_VERSION_FILE, "utf8").trim(),
  };
}
