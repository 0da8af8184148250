// Run the bundled hook (dist/procview-hook.mjs) as runc would: state on stdin.
import { access, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { HOOK_BUNDLE } from "../../core/paths.js";

// Compiled to dist/test/support/hook-bin.js.

export interface HookRun {
  code: number;
  stderr: string;
  ms: number;
}

/** `env` adds to the hook's environment (which, as under runc, is only PATH otherwise). */
export async function runHookBin(stdin: string, args: string[], env: Record<string, string> = {}): Promise<HookRun> {
  await access(HOOK_BUNDLE).catch(() => {
    throw new Error(`${HOOK_BUNDLE} missing: run npm run build`);
  });
  const started = process.hrtime.bigint();
  const r = await execa(process.execPath, [HOOK_BUNDLE, ...args], {
    input: stdin,
    reject: false,
    timeout: 30_000,
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    extendEnv: false,
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { code: r.exitCode ?? -1, stderr: String(r.stderr), ms };
}

/** A hook config file in a temp dir, so tests never read the machine's /etc/procview/hook.json. */
export async function hookConfig(content: unknown): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "procview-hookcfg-"));
  const file = path.join(dir, "hook.json");
  await writeFile(file, typeof content === "string" ? content : JSON.stringify(content));
  return file;
}
