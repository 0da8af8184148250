// What `procview install` wrote, so `procview uninstall` removes exactly that.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, rmdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { describeZodError, errorMessage } from "../core/errors.js";

export const InstallStateSchema = z
  .object({
    version: z.literal(1),
    /** Files written, with the hash of what was written: a file changed since is left alone. */
    files: z.array(z.object({ path: z.string().startsWith("/"), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
    /** Directories install created (deepest last); removed on uninstall when empty. */
    dirs: z.array(z.string().startsWith("/")),
    /**
     * Files install changed rather than wrote (containerd's config.toml): what was there before
     * (null: the file did not exist) and the hash of what install left. Uninstall puts `before`
     * back only while the file still hashes to `sha256`; a file edited since is kept.
     */
    edits: z
      .array(
        z.object({
          path: z.string().startsWith("/"),
          before: z.string().nullable(),
          sha256: z.string().regex(/^[0-9a-f]{64}$/),
          what: z.string(),
        }),
      )
      .optional(),
  })
  .strict();
export type InstallState = z.infer<typeof InstallStateSchema>;

export const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

export async function readState(file: string): Promise<InstallState> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, files: [], dirs: [] };
    throw new Error(`cannot read install state ${file}: ${errorMessage(err)}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`install state ${file} is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  const parsed = InstallStateSchema.safeParse(json);
  if (!parsed.success) throw new Error(`install state ${file} is invalid: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

/** The directories mkdir -p would create for `dir`, outermost first. */
export async function missingDirs(dir: string): Promise<string[]> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) missing.unshift(d);
  return missing;
}

/** mkdir -p that reports which directories it created, outermost first. */
export async function mkdirTracked(dir: string): Promise<string[]> {
  const missing = await missingDirs(dir);
  if (missing.length) await mkdir(dir, { recursive: true, mode: 0o755 });
  return missing;
}

/** Write via a temporary file and rename, so a reader never sees half a file. */
export async function writeAtomic(file: string, text: string, mode = 0o644): Promise<void> {
  const tmp = `${file}.procview-tmp-${process.pid}`;
  await writeFile(tmp, text, { mode });
  await rename(tmp, file);
}

export async function writeState(file: string, state: InstallState, createdDirs: string[]): Promise<void> {
  const made = await mkdirTracked(path.dirname(file));
  const dirs = [...state.dirs, ...createdDirs, ...made].filter((d, i, a) => a.indexOf(d) === i);
  await writeAtomic(file, JSON.stringify({ ...state, dirs }, null, 2) + "\n");
}

export interface UninstallReport {
  removed: string[];
  kept: string[];
  /** Edited files put back as they were before install. */
  restored: string[];
}

export async function uninstall(stateFile: string): Promise<UninstallReport> {
  const state = await readState(stateFile);
  const report: UninstallReport = { removed: [], kept: [], restored: [] };
  for (const e of state.edits ?? []) {
    let text: string;
    try {
      text = await readFile(e.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      continue; // gone already: nothing to put back over
    }
    if (sha256(text) !== e.sha256) {
      // Still as it was: install recorded the edit but stopped before making it.
      if (text !== e.before) report.kept.push(`${e.path} (changed since install; undo by hand: ${e.what})`);
      continue;
    }
    if (e.before === null) {
      await rm(e.path);
      report.removed.push(e.path);
    } else {
      await writeAtomic(e.path, e.before, (await stat(e.path)).mode & 0o7777);
      report.restored.push(`${e.path} (undid: ${e.what})`);
    }
  }
  for (const f of state.files) {
    let text: string;
    try {
      text = await readFile(f.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    if (sha256(text) !== f.sha256) {
      report.kept.push(`${f.path} (changed since install)`);
      continue;
    }
    await rm(f.path);
    report.removed.push(f.path);
  }
  if (await exists(stateFile)) {
    await rm(stateFile);
    report.removed.push(stateFile);
  }
  // Deepest first; a directory someone else has put files in stays.
  for (const d of [...state.dirs].sort((a, b) => b.length - a.length)) {
    try {
      await rmdir(d);
      report.removed.push(d + "/");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") report.kept.push(`${d}/ (not empty)`);
      else if (code !== "ENOENT") throw err;
    }
  }
  return report;
}
