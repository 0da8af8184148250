// containerd's config.toml as procview reads and edits it: what NRI is set to (in whatever
// form TOML allows: either quote style, dotted keys, inline tables), what that means on each
// containerd line, and minimal edits that keep every other byte.
//
// Two TOML libraries, each for what only it does:
// - toml-eslint-parser (maintained with eslint-plugin-toml, TOML 1.0) gives every key and value
//   with its source range. Editing in place needs those ranges; the other JavaScript parsers
//   (smol-toml, @iarna/toml, j-toml) return values only, and writing their output back would
//   drop the file's comments and layout.
// - smol-toml (strict TOML 1.0, the most used TOML parser on npm) checks the edited text
//   before anything is written: it must parse, say what was intended, and be otherwise the
//   same document as before. A second, independent parser catches what an edit could break
//   (a key defined twice, a table re-opened), the way containerd's own parser would refuse it.
import { parseTOML, getStaticTOMLValue, type AST } from "toml-eslint-parser";
import { parse as strictParse } from "smol-toml";
import { isDeepStrictEqual } from "node:util";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { DEFAULT_NRI_PLUGIN_DIR, DEFAULT_NRI_SOCKET } from "../core/paths.js";

export const NRI_PLUGIN = "io.containerd.nri.v1.nri";
const NRI_PATH = ["plugins", NRI_PLUGIN] as const;

/** containerd 1.7 (config version 2, NRI off by default) or 2.x (version 3, NRI on by default). */
export type ContainerdLine = "1.7" | "2";

/** NRI's settings when the config does not say (containerd's defaults, the same paths on both lines). */
export const NRI_DEFAULTS = {
  socketPath: DEFAULT_NRI_SOCKET,
  pluginPath: DEFAULT_NRI_PLUGIN_DIR,
  disable: { "1.7": true, "2": false } as Record<ContainerdLine, boolean>,
} as const;

export class ConfigError extends Error {}

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

export interface ContainerdConfig {
  file: string;
  text: string;
  ast: AST.TOMLProgram;
  value: Table;
  /** The `version` key; 1 when absent, as containerd reads it. */
  version: number;
}

function where(file: string, text: string, index: number): string {
  const before = text.slice(0, index);
  return `${file}:${before.split("\n").length}:${index - before.lastIndexOf("\n")}`;
}

/** Parse a config (both parsers must accept it); a one-line error with file:line:column when not. */
export function parseContainerdConfig(text: string, file: string): ContainerdConfig {
  let ast: AST.TOMLProgram;
  try {
    ast = parseTOML(text);
  } catch (err) {
    const e = err as { index?: number; message: string };
    throw new ConfigError(`${e.index !== undefined ? where(file, text, e.index) : file}: not valid TOML: ${e.message}`);
  }
  let value: Table;
  try {
    value = strictParse(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid TOML: ${(err as Error).message.split("\n")[0]}`);
  }
  const version = value.version ?? 1;
  if (typeof version !== "number" || !Number.isInteger(version))
    throw new ConfigError(`${file}: version = ${JSON.stringify(version)} is not a number`);
  return { file, text, ast, value, version };
}

/** The NRI plugin's table as the config gives it (undefined: not mentioned). */
export function nriTable(value: Table): Table | undefined {
  const plugins = value.plugins;
  if (!isTable(plugins)) return undefined;
  const nri = plugins[NRI_PLUGIN];
  return isTable(nri) ? nri : undefined;
}

export interface NriState {
  enabled: boolean;
  /** Whether plugins may connect to the socket themselves (external plugins: `disable_connections` not true). */
  connections: boolean;
  socketPath: string;
  pluginPath: string;
  /** Why enabled is what it is, for messages. */
  because: string;
}

/** What NRI is on `line` with these settings (several files: later ones override, as containerd merges `imports`). */
export function effectiveNri(tables: readonly (Table | undefined)[], line: ContainerdLine): NriState {
  const merged: Table = {};
  for (const t of tables) if (t) Object.assign(merged, t);
  const disable = merged.disable;
  const str = (v: unknown, dflt: string): string => (typeof v === "string" && v !== "" ? v : dflt);
  const enabled = typeof disable === "boolean" ? !disable : !NRI_DEFAULTS.disable[line];
  const because =
    typeof disable === "boolean"
      ? `disable = ${disable}`
      : `no disable key: containerd ${line}'s default is ${NRI_DEFAULTS.disable[line] ? "off" : "on"}`;
  return {
    enabled,
    connections: merged.disable_connections !== true,
    socketPath: str(merged.socket_path, NRI_DEFAULTS.socketPath),
    pluginPath: str(merged.plugin_path, NRI_DEFAULTS.pluginPath),
    because,
  };
}

/** The line a config version belongs to, when it decides it (3 is containerd 2's only). */
export function lineOfVersion(version: number): ContainerdLine | undefined {
  return version === 3 ? "2" : undefined;
}

/** The config's `imports` (containerd merges them over the file, in order). */
export function importsOf(c: ContainerdConfig): string[] {
  const imports = c.value.imports;
  if (imports === undefined) return [];
  if (!Array.isArray(imports) || !imports.every((i): i is string => typeof i === "string"))
    throw new ConfigError(`${c.file}: imports must be an array of strings`);
  return imports;
}

// ---- locating NRI's keys in the text ----

interface Located {
  kv: AST.TOMLKeyValue;
  path: string[];
}

function keyNames(key: AST.TOMLKey): string[] {
  return key.keys.map((k) => (k.type === "TOMLBare" ? k.name : k.value));
}

/** Every key/value with its full path, inline tables included. */
function allKeyValues(ast: AST.TOMLProgram): Located[] {
  const out: Located[] = [];
  const walk = (kvs: AST.TOMLKeyValue[], prefix: string[]): void => {
    for (const kv of kvs) {
      const path = [...prefix, ...keyNames(kv.key)];
      out.push({ kv, path });
      if (kv.value.type === "TOMLInlineTable") walk(kv.value.body, path);
    }
  };
  for (const node of ast.body[0].body) {
    if (node.type === "TOMLKeyValue") walk([node], []);
    else walk(node.body, node.resolvedKey.map(String));
  }
  return out;
}

const startsWith = (path: readonly string[], prefix: readonly string[]): boolean =>
  path.length >= prefix.length && prefix.every((p, i) => path[i] === p);
const isNriPath = (path: readonly string[]): boolean => path.length === NRI_PATH.length && startsWith(path, NRI_PATH);

/** A TOML literal for a value procview writes, in the quote style of `like` when it was a string. */
function literal(v: string | boolean, like?: AST.TOMLContentNode, text?: string): string {
  if (typeof v === "boolean") return String(v);
  const literalStyle = like?.type === "TOMLValue" && like.kind === "string" && text?.[like.range[0]] === "'";
  return literalStyle && !/['\n]/.test(v) ? `'${v}'` : JSON.stringify(v);
}

export interface Edit {
  /** [start, end) in the original text, replaced by `text`. */
  range: [number, number];
  text: string;
}

export function applyEdits(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const e of [...edits].sort((a, b) => b.range[0] - a.range[0])) out = out.slice(0, e.range[0]) + e.text + out.slice(e.range[1]);
  return out;
}

const lineStart = (text: string, i: number): number => text.lastIndexOf("\n", i - 1) + 1;
const lineEnd = (text: string, i: number): number => {
  const n = text.indexOf("\n", i);
  return n < 0 ? text.length : n;
};
const indentAt = (text: string, i: number): string => /^[ \t]*/.exec(text.slice(lineStart(text, i)))![0];

/**
 * Minimal edits that give NRI's table these keys: a value set otherwise is replaced in place,
 * a missing key goes where the table's other keys are (after its last key in a [table], with
 * the same dotted prefix beside dotted keys, inside the braces of an inline table), and a
 * table that is not there is appended at the end of the file.
 */
export function nriEdits(c: ContainerdConfig, wanted: Readonly<Record<string, string | boolean>>): Edit[] {
  const { text, ast } = c;
  const located = allKeyValues(ast);
  const edits: Edit[] = [];
  const missing: [string, string | boolean][] = [];
  for (const [key, value] of Object.entries(wanted)) {
    const hit = located.find((l) => l.path.length === NRI_PATH.length + 1 && startsWith(l.path, NRI_PATH) && l.path.at(-1) === key);
    if (!hit) {
      missing.push([key, value]);
      continue;
    }
    if (getStaticTOMLValue(hit.kv.value) === value) continue;
    edits.push({ range: hit.kv.value.range, text: literal(value, hit.kv.value, text) });
  }
  if (missing.length === 0) return edits;

  const quoteStyle = /'io\.containerd\./.test(text) ? "'" : '"';
  // 1. An inline table: NRI = { ... }
  const inline = located.find((l) => isNriPath(l.path) && l.kv.value.type === "TOMLInlineTable");
  if (inline && inline.kv.value.type === "TOMLInlineTable") {
    const body = inline.kv.value.body;
    const add = missing.map(([k, v]) => `${k} = ${literal(v, undefined, text)}`).join(", ");
    if (body.length) edits.push({ range: [body.at(-1)!.range[1], body.at(-1)!.range[1]], text: `, ${add}` });
    else edits.push({ range: [inline.kv.value.range[0] + 1, inline.kv.value.range[1] - 1], text: ` ${add} ` });
    return edits;
  }
  // 2. A [table] header for NRI itself.
  const table = ast.body[0].body.find(
    (n): n is AST.TOMLTable => n.type === "TOMLTable" && n.kind === "standard" && isNriPath(n.resolvedKey.map(String)),
  );
  if (table) {
    const anchor = table.body.length ? table.body.at(-1)!.range[1] : table.key.range[1];
    const at = lineEnd(text, anchor);
    const indent = table.body.length ? indentAt(text, table.body[0]!.range[0]) : `${indentAt(text, table.range[0])}  `;
    edits.push({ range: [at, at], text: missing.map(([k, v]) => `\n${indent}${k} = ${literal(v, undefined, text)}`).join("") });
    return edits;
  }
  // 3. Dotted keys reaching into NRI's table from a parent (plugins.'io.containerd.nri.v1.nri'.disable = ...).
  const dotted = located.filter(
    (l) =>
      l.path.length === NRI_PATH.length + 1 &&
      startsWith(l.path, NRI_PATH) &&
      l.kv.key.keys.length > 1 &&
      l.kv.parent.type !== "TOMLInlineTable",
  );
  const last = dotted.at(-1);
  if (last) {
    const keys = last.kv.key.keys;
    const prefix = text.slice(keys[0]!.range[0], keys.at(-1)!.range[0]);
    const at = lineEnd(text, last.kv.range[1]);
    const indent = indentAt(text, last.kv.range[0]);
    edits.push({ range: [at, at], text: missing.map(([k, v]) => `\n${indent}${prefix}${k} = ${literal(v, undefined, text)}`).join("") });
    return edits;
  }
  // 4. No NRI table: a new one at the end.
  const q = quoteStyle;
  const block = [
    "",
    '# Added by "procview install containerd" ("procview uninstall" restores this file).',
    `[plugins.${q}${NRI_PLUGIN}${q}]`,
    ...missing.map(([k, v]) => `  ${k} = ${literal(v, undefined, text)}`),
    "",
  ].join("\n");
  const end = text.length;
  edits.push({ range: [end, end], text: (text === "" || text.endsWith("\n") ? "" : "\n") + block });
  return edits;
}

/** The document less NRI's table, for comparing everything else. */
function withoutNri(value: Table): Table {
  const copy = structuredClone(value);
  if (isTable(copy.plugins)) {
    delete copy.plugins[NRI_PLUGIN];
    if (Object.keys(copy.plugins).length === 0) delete copy.plugins;
  }
  return copy;
}

/**
 * Apply the edits and check the result before anyone writes it: both parsers accept it, NRI's
 * table has the wanted values, and nothing else in the document changed.
 */
export function editNri(c: ContainerdConfig, wanted: Readonly<Record<string, string | boolean>>): string {
  const after = applyEdits(c.text, nriEdits(c, wanted));
  if (after === c.text) return after;
  let parsed: ContainerdConfig;
  try {
    parsed = parseContainerdConfig(after, `${c.file} (as edited)`);
  } catch (err) {
    throw new ConfigError(
      `cannot add NRI's settings to ${c.file} without breaking it (${(err as Error).message}); set them in [plugins.${JSON.stringify(NRI_PLUGIN)}] by hand`,
    );
  }
  const nri = nriTable(parsed.value) ?? {};
  const wrong = Object.entries(wanted).filter(([k, v]) => nri[k] !== v);
  if (wrong.length)
    throw new ConfigError(
      `editing ${c.file} did not give ${wrong.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(", ")}; nothing written`,
    );
  const before = nriTable(c.value) ?? {};
  const others = Object.keys({ ...before, ...nri }).filter((k) => !(k in wanted) && !isDeepStrictEqual(before[k], nri[k]));
  if (others.length || !isDeepStrictEqual(withoutNri(parsed.value), withoutNri(c.value)))
    throw new ConfigError(`editing ${c.file} would change more than NRI's ${Object.keys(wanted).join(", ")}; nothing written`);
  return after;
}

// ---- reading from the machine ----

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

/** An `imports` entry: a path (relative to the config's directory) whose file name may hold `*` and `?`. */
async function expandImport(entry: string, configDir: string): Promise<string[]> {
  const full = path.resolve(configDir, entry);
  const base = path.basename(full);
  if (!/[*?[]/.test(base)) return [full];
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|\\]/g, "\\$&")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")}$`,
  );
  const names = await readdir(path.dirname(full)).catch(() => [] as string[]);
  return names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(path.dirname(full), n));
}

export interface ContainerdSetup {
  /** The config file; null when it does not exist (containerd then runs on its defaults). */
  main: ContainerdConfig | null;
  /** The files it imports that exist, in merge order. */
  imports: ContainerdConfig[];
}

/** The config file and the files it imports, parsed. */
export async function readContainerdSetup(file: string): Promise<ContainerdSetup> {
  const text = await readOptional(file);
  if (text === null) return { main: null, imports: [] };
  const main = parseContainerdConfig(text, file);
  const imports: ContainerdConfig[] = [];
  for (const entry of importsOf(main))
    for (const f of await expandImport(entry, path.dirname(file))) {
      const t = await readOptional(f);
      if (t !== null) imports.push(parseContainerdConfig(t, f));
    }
  return { main, imports };
}

/** NRI as the whole setup says it (imports override the file), on `line`. */
export function setupNri(setup: ContainerdSetup, line: ContainerdLine): NriState {
  return effectiveNri(
    [setup.main, ...setup.imports].map((c) => (c ? nriTable(c.value) : undefined)),
    line,
  );
}

export interface ContainerdVersion {
  version: string;
  line: ContainerdLine;
}

/** The line of a `containerd --version` output ("containerd github.com/containerd/containerd/v2 2.1.9 ..."); throws below 1.7 (no NRI). */
export function parseContainerdVersion(output: string): ContainerdVersion {
  const m = /\bv?(\d+)\.(\d+)\.(\d+)\S*/.exec(output.replace(/^\S+\s+\S*containerd\S*\s*/, ""));
  if (!m) throw new ConfigError(`cannot read a version in "containerd --version": ${output.trim()}`);
  const [major, minor] = [Number(m[1]), Number(m[2])];
  if (major >= 2) return { version: m[0], line: "2" };
  if (major === 1 && minor >= 7) return { version: m[0], line: "1.7" };
  throw new ConfigError(`containerd ${m[0]} has no NRI (containerd 1.7 or later does)`);
}

/** Ask the containerd binary its version; null when there is no such program. */
export async function containerdVersion(binary: string): Promise<ContainerdVersion | null> {
  const r = await execa(binary, ["--version"], { reject: false, timeout: 10_000 });
  if (r.failed && (r as { code?: string }).code === "ENOENT") return null;
  if (r.exitCode !== 0) throw new ConfigError(`${binary} --version failed: ${String(r.stderr || r.stdout).trim()}`);
  return parseContainerdVersion(String(r.stdout));
}
