// A minimal busybox rootfs for `podman run --rootfs`, built once per test
// process from the host's static busybox.
//
// The targets (proc/meminfo, sys/devices/system/cpu/online) need not exist in
// the image: by the time the hook runs, runc has mounted the container's own
// procfs on <rootfs>/proc and sysfs on <rootfs>/sys (prepareRootfs mounts
// every config.json mount before syncParentHooks), so the files exist there.
// The image only needs the empty mount point directories.
import { rmSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { copyWithLibraries } from "../scripts/program-files.js";

const BUSYBOX = "/bin/busybox";
let cached: Promise<string> | undefined;

async function build(programs: readonly string[] = []): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "procview-rootfs-"));
  for (const d of ["bin", "proc", "sys", "dev", "etc", "tmp", "root", "run", "var/tmp"])
    await mkdir(path.join(root, d), { recursive: true });
  await chmod(path.join(root, "tmp"), 0o1777);
  await copyFile(BUSYBOX, path.join(root, "bin", "busybox"));
  await chmod(path.join(root, "bin", "busybox"), 0o755);
  const list = await execa(BUSYBOX, ["--list"]).catch((err: Error) => {
    throw new Error(`${BUSYBOX} --list failed (is busybox-static installed?): ${err.message}`);
  });
  for (const applet of String(list.stdout)
    .split("\n")
    .map((s) => s.trim())) {
    // "busybox" itself is in the list; linking it would replace the binary with a loop.
    if (!applet || applet === "busybox" || applet.includes("/")) continue;
    await symlink("busybox", path.join(root, "bin", applet)).catch(() => undefined);
  }
  await writeFile(path.join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  await writeFile(path.join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  // podman bind-mounts these over the image's; they must be files to bind onto.
  for (const f of ["hosts", "resolv.conf", "hostname"]) await writeFile(path.join(root, "etc", f), "");
  for (const program of programs) await copyWithLibraries(program, root);
  process.once("exit", () => {
    // best effort; the directory holds no mounts (podman unmounts its own)
    rmSync(root, { recursive: true, force: true });
  });
  return root;
}

/** Path of the shared busybox rootfs (built on first use). Treat it as read-only. */
export function busyboxRootfs(): Promise<string> {
  cached ??= build();
  return cached;
}

/** A busybox rootfs of its own with the host's `programs` (absolute paths) and the shared
 * libraries they load, each at the path the dynamic loader looks for it. */
export function rootfsWith(programs: readonly string[]): Promise<string> {
  return build(programs);
}
