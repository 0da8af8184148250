// Where each procview NRI plugin of the node stands with its runtime, one record per running
// plugin in <runtime-dir>/nri/: `procview nri-status` reads them, and with --this-container it is
// the readiness probe of the Kubernetes DaemonSet's `nri` container. A rolling update stops the
// old pod only once the new one is ready, so the new plugin already takes part in every
// CreateContainer before the old one leaves: no container is created while no procview plugin
// is registered.
//
// A record is two files named <pid>-<random>: `.json`, what the plugin says (replaced whole,
// by rename), and `.lock`, on which the plugin holds an exclusive flock(2) for its whole life.
// The lock tells whether the writer still runs: the kernel drops it however the process ends
// (SIGKILL and the OOM killer included), and it needs no pid, which another pid namespace
// numbers differently and which the node may reuse. The lock file is locked before it gets its
// name, and never renamed or unlocked while its plugin lives, so a record whose lock someone
// else can take is surely dead: each plugin that starts removes those.
//
// Everything is root's: the directory 0755, the files 0644 (what they say is no secret, as for
// the keeper's status file); neither is ever opened through a symlink.
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { z } from "zod";
import { FLOCK_ADDON, nriStatusDir } from "../core/paths.js";
import { errorMessage } from "../core/errors.js";

interface FlockAddon {
  tryLock(fd: number): boolean;
}
const flock = (): FlockAddon => createRequire(import.meta.url)(FLOCK_ADDON) as FlockAddon;

/** Registered: the runtime calls this plugin for every CreateContainer. */
export const PLUGIN_STATES = ["connecting", "registered", "stopping"] as const;
export type PluginState = (typeof PLUGIN_STATES)[number];

export const PluginStatusSchema = z.object({
  pid: z.number().int().positive(),
  /** /proc/self/ns/mnt of the plugin: which container it runs in. */
  mountNamespace: z.string(),
  /** As registered: <index>-<name>. */
  name: z.string(),
  /** The runtime's NRI socket, or how a runtime-launched plugin got its connection. */
  socket: z.string(),
  source: z.string(),
  state: z.enum(PLUGIN_STATES),
  /** When it entered that state (ms since the epoch). */
  since: z.number(),
  /** The runtime's name and version from its Configure ("" before one). */
  runtime: z.string(),
  startedAt: z.number(),
});
export type PluginStatus = z.infer<typeof PluginStatusSchema>;

export interface PluginRecord {
  /** The record's base path (<dir>/<pid>-<random>). */
  base: string;
  status: PluginStatus;
  /** Its plugin still holds the lock. */
  alive: boolean;
}

// libuv opens every file close-on-exec.
const openFlags = (extra: number): number => extra | constants.O_NOFOLLOW;

/** The mount namespace of this process: what "this container" means. */
export function ownMountNamespace(): string {
  return readlinkSync("/proc/self/ns/mnt");
}

function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
}

/**
 * Whether some process holds the lock at `lockFile`. When nobody does, `then` runs while this
 * process holds it (the sweep removes the record then), and the lock is released after.
 */
function lockHeld(lockFile: string, then?: () => void): boolean {
  let fd: number;
  try {
    fd = openSync(lockFile, openFlags(constants.O_RDONLY));
  } catch {
    return false; // no lock file: nobody holds it
  }
  try {
    if (!flock().tryLock(fd)) return true;
    then?.();
    return false;
  } finally {
    closeSync(fd);
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

/** Every record in the directory, with whether its plugin lives; unreadable ones are skipped. */
export function readPluginRecords(runtimeDir: string): PluginRecord[] {
  const dir = nriStatusDir(runtimeDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const records: PluginRecord[] = [];
  for (const name of names.filter((n) => /^\d+-[0-9a-f]+\.json$/.test(n)).sort()) {
    const base = path.join(dir, name.slice(0, -".json".length));
    let status: PluginStatus;
    try {
      const fd = openSync(`${base}.json`, openFlags(constants.O_RDONLY));
      try {
        status = PluginStatusSchema.parse(JSON.parse(readFileSync(fd, "utf8")));
      } finally {
        closeSync(fd);
      }
    } catch {
      continue; // removed meanwhile, or not a record of ours
    }
    records.push({ base, status, alive: lockHeld(`${base}.lock`) });
  }
  return records;
}

/** Removes the records of plugins that are gone (a killed one leaves its record). */
export function sweepDeadRecords(runtimeDir: string): number {
  const dir = nriStatusDir(runtimeDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  let swept = 0;
  const bases = new Set(names.filter((n) => /^\d+-[0-9a-f]+\.(json|lock)$/.test(n)).map((n) => n.replace(/\.(json|lock)$/, "")));
  for (const b of bases) {
    const base = path.join(dir, b);
    lockHeld(`${base}.lock`, () => {
      removeQuietly(`${base}.json`);
      removeQuietly(`${base}.lock`);
      swept++;
    });
  }
  return swept;
}

/** This plugin's record: created locked, rewritten whole at each change, removed when it stops. */
export class PluginStatusFile {
  private status: PluginStatus;
  private failed = false;

  private constructor(
    private readonly base: string,
    private readonly lockFd: number,
    initial: PluginStatus,
    private readonly log: (line: string) => void,
  ) {
    this.status = initial;
    this.write();
  }

  /**
   * Sweeps the records of dead plugins, then creates this one's, locked. Undefined (and the
   * reason logged) when the directory cannot be written: the plugin serves all the same, only
   * nothing can tell it is registered.
   */
  static create(
    runtimeDir: string,
    what: Pick<PluginStatus, "name" | "socket" | "source">,
    log: (line: string) => void,
  ): PluginStatusFile | undefined {
    const dir = nriStatusDir(runtimeDir);
    const base = path.join(dir, `${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
      prepareDir(dir);
      const swept = sweepDeadRecords(runtimeDir);
      if (swept > 0) log(`removed ${swept} status record${swept === 1 ? "" : "s"} of procview NRI plugins that are gone, from ${dir}`);
      // Locked before it has its name, so that no sweep ever finds it unlocked.
      const pending = `${base}.lock.tmp`;
      const fd = openSync(pending, openFlags(constants.O_RDWR | constants.O_CREAT | constants.O_EXCL), 0o644);
      if (!flock().tryLock(fd)) throw new Error(`${pending} is locked by another process`);
      renameSync(pending, `${base}.lock`);
      const now = Date.now();
      return new PluginStatusFile(
        base,
        fd,
        { pid: process.pid, mountNamespace: ownMountNamespace(), ...what, state: "connecting", since: now, runtime: "", startedAt: now },
        log,
      );
    } catch (err) {
      log(`no status record in ${dir} (procview nri-status will not see this plugin): ${errorMessage(err)}`);
      return undefined;
    }
  }

  get current(): PluginStatus {
    return this.status;
  }

  update(state: PluginState, runtime?: string): void {
    if (state === this.status.state && (runtime === undefined || runtime === this.status.runtime)) return;
    this.status = { ...this.status, state, since: Date.now(), runtime: runtime ?? this.status.runtime };
    this.write();
  }

  private write(): void {
    const pending = `${this.base}.json.tmp`;
    try {
      const fd = openSync(pending, openFlags(constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC), 0o644);
      try {
        writeSync(fd, `${JSON.stringify(this.status)}\n`);
      } finally {
        closeSync(fd);
      }
      renameSync(pending, `${this.base}.json`);
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.log(`could not write ${this.base}.json: ${errorMessage(err)}`);
      this.failed = true;
    }
  }

  /** The record goes; the lock goes with the descriptor. */
  remove(): void {
    removeQuietly(`${this.base}.json`);
    removeQuietly(`${this.base}.lock`);
    closeSync(this.lockFd);
  }
}

/** One line for a record, as `procview nri-status` prints it. */
export function describeRecord(r: PluginRecord, here: string, now = Date.now()): string {
  const s = r.status;
  const seconds = Math.max(0, Math.round((now - s.since) / 1000));
  const state = !r.alive
    ? `gone (was ${s.state})`
    : s.state === "registered"
      ? `registered with ${s.runtime || "the runtime"} for ${seconds} s`
      : s.state === "connecting"
        ? `not registered: connecting to the runtime for ${seconds} s`
        : `stopping for ${seconds} s`;
  const where = s.mountNamespace === here ? ", this container" : "";
  return `${s.name} pid ${s.pid}${where}: ${state}; socket ${s.socket}, source ${s.source}`;
}

/** Ready: a live plugin registered with its runtime, in this container when `here` is given. */
export function isReady(r: PluginRecord, here?: string): boolean {
  return r.alive && r.status.state === "registered" && (here === undefined || r.status.mountNamespace === here);
}
