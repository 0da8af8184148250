// `procview status` and `procview reload`.
import { resolve } from "node:path";
import { Command } from "commander";
import { readStatus } from "../fuse/keeper/status.js";
import { serviceHealth } from "../fuse/keeper/health.js";
import { renderTable, type Row } from "./table.js";
import { DEFAULT_RUNTIME_DIR, statusPath, DEFAULT_MOUNTPOINT } from "../core/paths.js";

interface Flags {
  mountpoint: string;
  runtimeDir: string;
}

function age(since: number | null | undefined): string {
  if (!since) return "-";
  const seconds = Math.round((Date.now() - since) / 1000);
  return seconds < 120 ? `${seconds} s` : seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
}

export function registerStatusCommands(program: Command): void {
  program
    .command("status")
    .description("is the mount live, which processes serve it, how much they served; exits 1 when something is wrong")
    .option("--mountpoint <dir>", "the mountpoint procview serve was started with", DEFAULT_MOUNTPOINT)
    .option("--runtime-dir <dir>", "where procview serve keeps its status file", DEFAULT_RUNTIME_DIR)
    .action(async (flags: Flags) => {
      const health = await serviceHealth(resolve(flags.mountpoint), flags.runtimeDir);
      const s = health.status;
      const rows: Row[] = [
        { label: "mount", value: `${health.mountPoint}: ${health.mount}`, ok: health.mount === "answering" },
        {
          label: "keeper",
          value: s ? `pid ${s.keeperPid}, up ${age(s.keeperStartedAt)}` : "no status file: procview serve never ran here",
          ok: health.keeperAlive,
        },
        {
          label: "serving process",
          value: s?.servingPid ? `pid ${s.servingPid}, up ${age(s.servingStartedAt)}` : "none",
          ok: health.servingAlive,
        },
      ];
      if (s) {
        rows.push(
          { label: "restarts / reloads", value: `${s.restarts} / ${s.reloads}` },
          { label: "containers being served", value: String(s.containers) },
          { label: "opens served", value: `${s.opens} (${s.rerendered} re-rendered after a restart, ${s.renderFailures} failed)` },
          {
            label: "hooks served",
            value: s.hookSocket ? `${s.hooksServed} on ${s.hookSocket}` : "no hook socket (procview-hook runs the Node hook)",
          },
          { label: "views restored at start", value: String(s.restoredViews) },
        );
      }
      process.stdout.write(`${renderTable(rows)}\n`);
      if (!health.healthy) process.exitCode = 1;
    });

  program
    .command("reload")
    .description(
      "replace the serving process with one running the code installed now (the upgrade path); the mount and every container's views stay, no read fails",
    )
    .option("--mountpoint <dir>", "the mountpoint procview serve was started with", DEFAULT_MOUNTPOINT)
    .option("--runtime-dir <dir>", "where procview serve keeps its status file", DEFAULT_RUNTIME_DIR)
    .action(async (flags: Flags) => {
      const file = statusPath(resolve(flags.mountpoint), flags.runtimeDir);
      const before = readStatus(file);
      if (!before) throw new Error(`no procview serves ${flags.mountpoint} (no ${file})`);
      process.kill(before.keeperPid, "SIGHUP");
      for (let waited = 0; waited < 15_000; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        const now = readStatus(file);
        if (now && now.reloads > before.reloads && now.servingPid !== before.servingPid && now.servingPid !== null) {
          process.stdout.write(`reloaded: serving process ${before.servingPid} → ${now.servingPid}\n`);
          return;
        }
      }
      throw new Error(`the keeper (pid ${before.keeperPid}) did not report a new serving process within 15 s`);
    });
}
