// A dynamically linked program with the shared libraries it loads, copied into a root
// directory at the paths the dynamic loader looks for them (as `ldd` names them): what a
// container image or a test's rootfs needs to run a program of the build machine.
import { chmod, copyFile, mkdir, realpath } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

/** The libraries `ldd` says `program` loads, the dynamic loader included (none for a static program). */
export async function librariesOf(program: string): Promise<string[]> {
  const ldd = await execa("ldd", [program], { reject: false });
  // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
  return String(ldd.stdout)
    .split("\n")
    .map((line) => /(?:=>\s*)?(\/\S+) \(0x[0-9a-f]+\)/.exec(line)?.[1])
    .filter((p): p is string => p !== undefined);
}

/** Copies `file` (its content, symlinks followed) to the same path under `root`. */
export async function copyInto(root: string, file: string, as: string = file, mode = 0o755): Promise<string> {
  const target = path.join(root, as);
  await mkdir(path.dirname(target), { recursive: true });
  await copyFile(await realpath(file), target);
  await chmod(target, mode);
  return target;
}

/** Copies `program` and every library it loads into `root`, each at its own path. */
export async function copyWithLibraries(program: string, root: string): Promise<void> {
  for (const file of [program, ...(await librariesOf(program))]) await copyInto(root, file);
}
