// What `procview install` writes has the modes it chooses, whatever the umask of whoever runs it:
// directories 0755, files 0644, so that a strict umask neither hides the hooks file from the
// runtime nor a loose one opens it to everybody.
import test from "ava";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PROCVIEW_CLI } from "../../testbed/procview.js";

const mode = (path: string): string => (statSync(path).mode & 0o7777).toString(8);

for (const umask of ["077", "000"]) {
  test(`install hooks and service under umask ${umask}: directories 0755, files 0644`, async (t) => {
    const base = mkdtempSync(join(tmpdir(), "procview-modes-"));
    const hooks = join(base, "etc/containers/oci/hooks.d");
    const units = join(base, "etc/systemd/system");
    const state = join(base, "etc/procview/installed.json");
    const run = (args: string[]) =>
      execa("/bin/sh", ["-c", `umask ${umask}; exec "$@"`, "sh", process.execPath, PROCVIEW_CLI, "install", ...args, "--state", state]);
    await run(["hooks", "--dir", hooks, "--source", "/var/lib/procview"]);
    await run(["service", "--dir", units, "--no-start"]);
    for (const dir of [join(base, "etc"), join(base, "etc/containers"), hooks, units, join(base, "etc/procview")])
      t.is(mode(dir), "755", dir);
    for (const file of [join(hooks, "procview.json"), join(units, "procview.service"), state]) t.is(mode(file), "644", file);
    await execa(process.execPath, [PROCVIEW_CLI, "uninstall", "--state", state]);
  });
}
