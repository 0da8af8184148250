// `procview status` and `procview reload`: both ask the keeper on its root-only control socket.
import { resolve } from "node:path";
import { Command } from "commander";
import { keeperHere, serviceHealth, type ServiceHealth } from "../fuse/keeper/health.js";
import { askKeeper } from "../fuse/keeper/control.js";
import { renderTable, type Row } from "./table.js";
import { DEFAULT_RUNTIME_DIR, DEFAULT_MOUNTPOINT, keeperSocketPath, statusPath } from "../core/paths.js";

interface Flags {
  mountpoint: string;
  runtimeDir: string;
}

interface StatusFlags extends Flags {
  thisContainer: boolean;
}

/** The row of --this-container: does this container's keeper serve the mount, or wait to take it over? */
function thisContainerRow(health: ServiceHealth): Row {
  const s = health.status;
  if (!s || !health.keeperAlive) return { label: "this container", value: "no keeper answers", ok: false };
  const here = keeperHere(s);
  if (here === "serving") return { label: "this container", value: `its keeper (pid ${s.keeperPid}) serves the mount`, ok: true };
  if (here === "taking-over")
    return { label: "this container", value: `its keeper (pid ${s.successorPid}) waits to take the mount over`, ok: true };
  const waiting = s.successorWaiting ? `, keeper ${s.successorPid ?? "?"} waits to take over` : "";
  return {
    label: "this container",
    value: `its keeper neither serves the mount nor waits to take it over (keeper ${s.keeperPid} serves${waiting})`,
    ok: false,
  };
}

function age(since: number | null | undefined): string {
  if (!since) return "-";
  const seconds = Math.round((Date.now() - since) / 1000);
  return seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export function registerStatusCommands(program: Command): void {
  program
    .command("status")
    .description("is the mount live, which processes serve it, how much they served; exits 1 when something is wrong")
    .option("--mountpoint <dir>", "the mountpoint procview serve was started with", DEFAULT_MOUNTPOINT)
    .option("--runtime-dir <dir>", "where procview serve keeps its control socket and status file", DEFAULT_RUNTIME_DIR)
    .option(
      "--this-container",
      "also exit 1 unless the keeper running in this container (this process's mount namespace) serves the mount or waits to take it over: the readiness and liveness probe of a Kubernetes pod, which must not count as ready on another pod's keeper during a rolling update",
      false,
    )
    .action(async (flags: StatusFlags) => {
      const mountPoint = resolve(flags.mountpoint);
      const health = await serviceHealth(mountPoint, flags.runtimeDir);
      const s = health.status;
      const keeper = !s
        ? "no status file: procview serve never ran here"
        : health.keeperAlive
          ? `pid ${s.keeperPid}, up ${age(s.keeperStartedAt)}, ${mib(s.keeperRssBytes)} resident${s.successorWaiting ? "; a successor waits to take over" : ""}`
          : `${health.keeperProblem ?? "not answering"}; last known: pid ${s.keeperPid} (${statusPath(mountPoint, flags.runtimeDir)})`;
      const rows: Row[] = [
        { label: "mount", value: `${health.mountPoint}: ${health.mount}`, ok: health.mount === "answering" },
        { label: "keeper", value: keeper, ok: health.keeperAlive },
        {
          label: "serving process",
          value: health.servingAlive && s?.servingPid ? `pid ${s.servingPid}, up ${age(s.servingStartedAt)}` : "none",
          ok: health.servingAlive,
        },
      ];
      if (s && health.keeperAlive) {
        rows.push({
          label: "standby",
          value: s.standbyPid ? `pid ${s.standbyPid}${s.standbyReady ? ", ready to take over" : ", starting"}` : "none (--no-standby)",
        });
        rows.push({
          label: "watchdog",
          value: s.watchdogMs ? `replaces a serving process silent for ${s.watchdogMs} ms` : "off (--watchdog-ms 0)",
        });
      }
      if (s) {
        rows.push(
          { label: "restarts / reloads / hangs", value: `${s.restarts} / ${s.reloads} / ${s.hangs}` },
          { label: "handoffs between keepers", value: String(s.handoffs) },
          { label: "containers being served", value: String(s.containers) },
          { label: "opens served", value: `${s.opens} (${s.rerendered} re-rendered after a restart, ${s.renderFailures} failed)` },
          {
            label: "per-container tree",
            value: s.containerTree
              ? `${s.containerTree}: ${s.fills} files filled into the page cache, ${s.invalidations} invalidated, ${s.treeRequests} requests`
              : "not mounted (containers/ is the main tree's, rendered per reader)",
          },
          {
            label: "hooks served",
            value: s.hookSocket ? `${s.hooksServed} on ${s.hookSocket}` : "no hook socket (procview-hook runs the Node hook)",
          },
          { label: "views restored at start", value: String(s.restoredViews) },
        );
      }
      const here = flags.thisContainer ? thisContainerRow(health) : null;
      if (here) rows.push(here);
      process.stdout.write(`${renderTable(rows)}\n`);
      if (!health.healthy || here?.ok === false) process.exitCode = 1;
    });

  program
    .command("reload")
    .description(
      "replace the serving process with one running the code installed now (the upgrade path); the mount and every container's views stay, no read fails",
    )
    .option("--mountpoint <dir>", "the mountpoint procview serve was started with", DEFAULT_MOUNTPOINT)
    .option("--runtime-dir <dir>", "where procview serve keeps its control socket", DEFAULT_RUNTIME_DIR)
    .action(async (flags: Flags) => {
      const answer = await askKeeper(keeperSocketPath(resolve(flags.mountpoint), flags.runtimeDir), "reload", 25_000);
      const reloaded = /^reloaded (\d+) (\d+)$/.exec(answer);
      if (!reloaded) throw new Error(`the keeper did not reload: ${answer.replace(/^error /, "") || "no answer"}`);
      const before = reloaded[1] === "0" ? "none" : reloaded[1];
      process.stdout.write(`reloaded: serving process ${before} → ${reloaded[2]}\n`);
    });
}
