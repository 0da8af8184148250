// A hooks dir holding only procview.json (podman parses every *.json there), plus an empty
// hook config next to it, for `podman --hooks-dir`.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { buildHooksFile } from "../../install/hooks-file.js";
import { HOOK_BUNDLE } from "../../core/paths.js";

export async function hooksDir(source: string, policy: "fail" | "ignore"): Promise<string> {
  const base = await mkdtemp(path.join(tmpdir(), `procview-hooksd-${policy}-`));
  const dir = path.join(base, "hooks.d");
  await mkdir(dir);
  const config = path.join(base, "hook.json");
  await writeFile(config, "{}");
  const file = buildHooksFile({
    node: process.execPath,
    hook: HOOK_BUNDLE,
    hookArgs: ["--config", config, "--source", source, "--policy", policy],
  });
  await writeFile(path.join(dir, "procview.json"), JSON.stringify(file, null, 2));
  return dir;
}
