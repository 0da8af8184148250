// `procview install service`: a unit systemd accepts, pointing at this install, recorded so that
// `procview uninstall` removes exactly it.
import test from "ava";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { CLI_ENTRY as PROCVIEW_CLI, PACKAGE_ROOT } from "../../core/paths.js";

test("the unit is valid for systemd, runs this install's serve, and uninstall removes exactly it", async (t) => {
  const base = mkdtempSync(join(tmpdir(), "procview-unit-"));
  const dir = join(base, "system");
  const state = join(base, "installed.json");
  const installed = await execa(process.execPath, [
    PROCVIEW_CLI,
    "install",
    "service",
    "--dir",
    dir,
    "--state",
    state,
    "--mountpoint",
    "/var/lib/procview",
  ]);
  t.regex(installed.stdout, /^wrote .*\/procview\.service; recorded in /m);
  const unitFile = join(dir, "procview.service");
  const unit = readFileSync(unitFile, "utf8");
  t.regex(unit, new RegExp(`^ExecStart=${process.execPath} ${PROCVIEW_CLI} serve --foreground --mountpoint /var/lib/procview$`, "m"));
  t.regex(unit, /^Restart=always$/m);
  t.regex(unit, /^Before=.*podman\.service.*crio\.service.*containerd\.service/m);
  t.regex(unit, /^OOMScoreAdjust=-1000$/m);
  t.regex(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);

  // systemd's own parser: no unknown keys, no bad values, ExecStart's binary exists.
  const verify = await execa("systemd-analyze", ["verify", unitFile], { reject: false });
  t.is(verify.exitCode, 0, verify.stderr);
  t.notRegex(String(verify.stderr), /procview\.service:\d+:/, "no complaints about our lines");

  const removed = await execa(process.execPath, [PROCVIEW_CLI, "uninstall", "--state", state]);
  t.regex(removed.stdout, /^removed .*\/procview\.service$/m);
  t.false(existsSync(unitFile));
  t.false(existsSync(state));
});

test("install/procview.service is the unit install writes for the default paths", async (t) => {
  const { buildUnit } = await import("../../install/systemd-unit.js");
  const committed = readFileSync(join(PACKAGE_ROOT, "install/procview.service"), "utf8");
  t.is(
    committed,
    buildUnit({ node: "/usr/bin/node", cli: "/usr/lib/node_modules/procview/dist/cli/procview.js", mountPoint: "/var/lib/procview" }),
  );
});
