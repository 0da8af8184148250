// `procview install service`: the systemd unit, written where systemd reads it, recorded in the
// install state so `procview uninstall` removes exactly it (after stopping it).
import { existsSync } from "node:fs";
import path from "node:path";
import { Command } from "commander";
import { execa } from "execa";
import { buildUnit, DEFAULT_UNIT_DIR, UNIT_NAME } from "./systemd-unit.js";
import { exists, mkdirTracked, readState, sha256, writeAtomic, writeState } from "./state.js";
import { DEFAULT_STATE_FILE, CLI_ENTRY } from "../core/paths.js";

export interface InstallServiceOptions {
  dir: string;
  mountpoint: string;
  node: string;
  state: string;
  start: boolean;
}

/** systemd is PID 1 and running (the documented test: /run/systemd/system exists). */
export const systemdRunning = (): boolean => existsSync("/run/systemd/system");

export async function installService(opts: InstallServiceOptions): Promise<string[]> {
  const cli = CLI_ENTRY;
  if (!(await exists(cli))) throw new Error(`${cli} not found; run npm run build first`);
  if (!path.isAbsolute(opts.node) || !(await exists(opts.node))) throw new Error(`node binary ${opts.node} not found`);
  const target = path.join(path.resolve(opts.dir), UNIT_NAME);
  const state = await readState(opts.state);
  if (!state.files.some((f) => f.path === target) && (await exists(target))) {
    throw new Error(`${target} exists and was not written by procview install; remove it or choose --dir`);
  }
  const text = buildUnit({ node: opts.node, cli, mountPoint: path.resolve(opts.mountpoint) });
  const createdDirs = await mkdirTracked(path.dirname(target));
  await writeAtomic(target, text);
  await writeState(
    opts.state,
    { ...state, files: [...state.files.filter((f) => f.path !== target), { path: target, sha256: sha256(text) }] },
    createdDirs,
  );
  const said = [`wrote ${target}; recorded in ${opts.state}`];
  if (!systemdRunning()) {
    said.push("systemd is not running on this machine: enable the unit where it is (systemctl enable --now procview.service)");
  } else if (opts.start) {
    await execa("systemctl", ["daemon-reload"]);
    await execa("systemctl", ["enable", "--now", UNIT_NAME]);
    said.push(`enabled and started ${UNIT_NAME}`);
  }
  return said;
}

/** Stops and disables the unit before uninstall removes its file (when systemd runs here). */
export async function stopServiceIfInstalled(unitPaths: string[]): Promise<string[]> {
  if (!systemdRunning() || !unitPaths.some((p) => path.basename(p) === UNIT_NAME)) return [];
  await execa("systemctl", ["disable", "--now", UNIT_NAME], { reject: false });
  return [`stopped and disabled ${UNIT_NAME}`];
}

export function registerInstallService(install: Command): void {
  install
    .command("service")
    .description(
      `write the systemd unit ${UNIT_NAME} (procview serve in the foreground, Restart=always, before podman, CRI-O, containerd and kubelet, the keeper protected from the OOM killer with OOMScoreAdjust=-1000, systemctl reload running procview reload) into --dir, and enable and start it when systemd runs here. Recorded in the state file; "procview uninstall" stops it and removes exactly that file.`,
    )
    .option("--dir <dir>", "where systemd reads units", DEFAULT_UNIT_DIR)
    .option("--mountpoint <dir>", "the mountpoint the service serves", "/var/lib/procview")
    .option("--node <path>", "absolute path of the node binary the service runs with", process.execPath)
    .option("--state <file>", "where to record what was written", DEFAULT_STATE_FILE)
    .option("--no-start", "only write the unit; do not enable or start it")
    .action(async (opts: InstallServiceOptions) => {
      for (const line of await installService(opts)) process.stdout.write(`${line}\n`);
    });
}
