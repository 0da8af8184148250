// Report to the system log without ever failing the hook: a machine without
// syslog (containers, minimal VMs) must behave exactly like one with it.
import { execa } from "execa";
import { tool } from "../core/tools.js";
import type { Outcome } from "./run.js";

export async function toSyslog(message: string, priority: "user.warning" | "user.err" | "user.info" = "user.warning"): Promise<void> {
  try {
    await execa(tool("logger"), ["-t", "procview-hook", "-p", priority, "--", message], {
      timeout: 1000,
      killSignal: "SIGKILL",
      reject: false,
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
  } catch {
    // no logger binary or no /dev/log: stderr already carries the message
  }
}

/** An outcome's line for the system log, if it has one: a warning when the container starts, an error when it is refused. */
export async function logOutcome(outcome: Outcome): Promise<void> {
  if (outcome.syslog) await toSyslog(outcome.syslog, outcome.code === 0 ? "user.warning" : "user.err");
}
