// /proc/stat and /proc/uptime must agree on how long the container has existed: on each shown CPU
// user + system + idle is the container's age in ticks, which /proc/uptime prints in hundredths
// (= ticks at USER_HZ 100). The fixture's host uptime (1293.40) happens to subtract exactly in
// binary floating point; these host uptimes do not, so they are served from a copy of the
// fixture's /proc with only proc/uptime changed.
import test from "ava";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRenderer } from "../../fuse/server/render.js";
import { LoadView } from "../../fuse/server/load/view.js";
import { LoadTable, createLoadTableBuffers } from "../../fuse/server/load/table.js";
import { expectedFor, fixtureRoots, scenarioByName } from "../fixtures/index.js";
import { TREES, cpuLines, expectedVisible, fmtHundredths, hundredths, readAs } from "./expect.js";

const scratch = mkdtempSync(join(tmpdir(), "procview-views-pipeline-"));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

const CASES: { hostUptime: string; scenario: string }[] = [
  { hostUptime: "1000.05 2216.52\n", scenario: "no-limit" }, // init started at tick 50000
  { hostUptime: "1000.30 2216.52\n", scenario: "limit-256m-swap-on" }, // tick 80000
  { hostUptime: "1293.29 2216.52\n", scenario: "host-pidns-container" }, // host pid ns: init = host's pid 1, tick 1
];

for (const tree of TREES) {
  for (const { hostUptime, scenario: name } of CASES) {
    test(`${tree} ${name}, host uptime ${hostUptime.split(" ")[0]}: stat's per-CPU user+system+idle = /proc/uptime's age`, (t) => {
      const roots = fixtureRoots(tree);
      const procRoot = mkdtempSync(join(scratch, `${tree}-proc-`));
      cpSync(roots.procRoot, procRoot, { recursive: true, verbatimSymlinks: true });
      writeFileSync(join(procRoot, "uptime"), hostUptime);
      const loads = new LoadView(new LoadTable(createLoadTableBuffers(8)), null, () => {});
      const render = createRenderer({ ...roots, procRoot, useCpuQuota: true, cacheMs: 0 }, loads);

      const scenario = scenarioByName(name);
      const e = expectedFor(scenario, tree);
      const age = hundredths(hostUptime) - e.nsInitStartTicks;
      const uptime = readAs(render, "uptime", scenario.pid);
      t.is(uptime.split(" ")[0], fmtHundredths(age), "uptime: host uptime − init start ticks");

      const [, ...perCpu] = cpuLines(readAs(render, "stat", scenario.pid));
      t.is(perCpu.length, expectedVisible(e, true).length);
      for (const l of perCpu) {
        const [user, , system, idle] = l.cols;
        t.true(idle! > 0, `${l.label} has idle time`);
        t.is(user! + system! + idle!, age, `${l.label}: user ${user} + system ${system} + idle ${idle} = age ${age} ticks`);
      }
    });
  }
}
