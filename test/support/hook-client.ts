// Running procview-hook (the hook's C client) against a socket in a scratch directory, with a
// stand-in for the Node hook that records what it was given, so a test can tell an answer from
// the serving process from a fallback.
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { execa } from "execa";
import { HOOK_CLIENT } from "../../core/paths.js";

export const STATE = JSON.stringify({
  ociVersion: "1.0.2",
  id: "abc",
  status: "creating",
  pid: 4242,
  bundle: "/b",
  annotations: { x: "é" },
});
export const HOOK_ARGS = ["--source", "/var/lib/procview", "--policy", "fail"];

export async function scratch(t: { teardown: (fn: () => Promise<void>) => void }) {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-client-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Stands in for `node procview-hook.mjs ARGS`: records its stdin and arguments, exits 7.
  const fallback = path.join(dir, "fallback.sh");
  await writeFile(fallback, `#!/bin/sh\ncat > "${dir}/fallback.stdin"\nprintf '%s\\n' "$@" > "${dir}/fallback.args"\nexit 7\n`);
  await chmod(fallback, 0o755);
  return { dir, socket: path.join(dir, "hook.sock"), fallback };
}

export function runClient(socket: string, fallback: string, args = HOOK_ARGS, input = STATE) {
  return execa(HOOK_CLIENT, ["--socket", socket, "--node", "/bin/sh", "--bundle", fallback, "--", ...args], {
    input,
    reject: false,
    timeout: 20_000,
  });
}

export async function fellBack(t: ExecutionContext, dir: string, r: { exitCode?: number }) {
  t.is(r.exitCode, 7, "the Node hook (stand-in) decided the exit code");
  t.is(await readFile(path.join(dir, "fallback.stdin"), "utf8"), STATE, "with the same stdin");
  t.deepEqual((await readFile(path.join(dir, "fallback.args"), "utf8")).trimEnd().split("\n"), HOOK_ARGS, "and the same arguments");
}
