// Where podman will really look for hooks files. containers/common v0.50
// (podman 4.3 on Debian 12) reads only engine.hooks_dir, whose built-in
// default is /usr/share/containers/oci/hooks.d; /etc/containers/oci/hooks.d
// is read only when listed there. Config files, later ones overriding
// (pkg/config/config.go systemConfigs): $CONTAINERS_CONF alone when set, else
// /usr/share/containers/containers.conf, /etc/containers/containers.conf,
// /etc/containers/containers.conf.d/*.conf. When several directories are
// listed, a same-named file in a later one wins, so we write to the last.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

export const PODMAN_DEFAULT_HOOKS_DIR = "/usr/share/containers/oci/hooks.d";
export const ETC_HOOKS_DIR = "/etc/containers/oci/hooks.d";

export function containersConfFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.CONTAINERS_CONF) return [env.CONTAINERS_CONF];
  const files = ["/usr/share/containers/containers.conf", "/etc/containers/containers.conf"];
  try {
    const dropins = readdirSync("/etc/containers/containers.conf.d")
      .filter((f) => f.endsWith(".conf"))
      .sort()
      .map((f) => path.join("/etc/containers/containers.conf.d", f));
    files.push(...dropins);
  } catch {
    // no drop-in directory
  }
  return files;
}

/** engine.hooks_dir from one containers.conf text, or undefined when not set. Enough TOML for this one key. */
export function parseHooksDir(toml: string): string[] | undefined {
  let table = "";
  let result: string[] | undefined;
  const lines = toml.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i] ?? "").trim();
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      table = header[1] ?? "";
      continue;
    }
    if (table !== "engine") continue;
    const m = /^hooks_dir\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[1] ?? "";
    while (!value.includes("]") && i + 1 < lines.length) value += " " + stripComment(lines[++i] ?? "");
    result = [...value.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'/g)].map((x) => x[1] ?? x[2] ?? "");
  }
  return result;
}

function stripComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "#") return line.slice(0, i);
  }
  return line;
}

/** The directories podman reads hooks from on this machine. */
export function podmanHooksDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  let dirs = [PODMAN_DEFAULT_HOOKS_DIR];
  for (const file of containersConfFiles(env)) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const set = parseHooksDir(text);
    if (set && set.length) dirs = set;
  }
  return dirs;
}

/** The one directory `install hooks` writes to by default. */
export function defaultInstallDir(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = podmanHooksDirs(env);
  return dirs[dirs.length - 1] ?? PODMAN_DEFAULT_HOOKS_DIR;
}
