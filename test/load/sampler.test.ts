import test from "ava";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoadSampler } from "../../fuse/server/load/sampler.js";
import { detectLayout, CONTROLLERS, type Controller } from "../../fuse/cgroup/layout.js";
import { FIXED_1, stepLoads, toLoadNumbers, ZERO_LOADS } from "../../fuse/server/load/decay.js";
import { fixtureRoots, FIXTURES_DIR } from "../fixtures/index.js";

const at = (p: string) => Object.fromEntries(CONTROLLERS.map((c) => [c, p])) as Record<Controller, string>;

test("sample/get/forget", (t) => {
  const s = new LoadSampler();
  t.deepEqual(s.get("never"), { load1: 0, load5: 0, load15: 0 });
  s.sample("/a", 2);
  t.deepEqual(s.getFixed("/a"), stepLoads(ZERO_LOADS, 2));
  t.deepEqual(s.get("/a"), toLoadNumbers(stepLoads(ZERO_LOADS, 2)));
  t.deepEqual(s.keys(), ["/a"]);
  s.forget("/a");
  t.deepEqual(s.get("/a"), { load1: 0, load5: 0, load15: 0 });
});

for (const tree of ["v1", "v2"] as const) {
  test(`${tree}: sampleCgroups counts R+D of the container tree`, (t) => {
    const { cgroupRoot, procRoot } = fixtureRoots(tree);
    const layout = detectLayout(cgroupRoot);
    const s = new LoadSampler();
    // ctr-nolimit: R thread + D process = 2; ctr-systemd tree: 2 R (one task vanished); pod-b/app: R + D.
    const targets = [
      { key: "/ctr-nolimit", paths: at("/ctr-nolimit") },
      { key: "/ctr-systemd", paths: at("/ctr-systemd") },
      { key: "/kubepods/pod-b/app", paths: at("/kubepods/pod-b/app") },
      { key: "/ctr-big", paths: at("/ctr-big") },
      { key: "/gone", paths: at("/gone") },
    ];
    for (let i = 0; i < 1000; i++) s.sampleCgroups(targets, { layout, procRoot });
    t.is(s.getFixed("/ctr-nolimit").load15, 2 * FIXED_1);
    t.deepEqual(s.get("/ctr-systemd"), { load1: 2, load5: 2, load15: 2 });
    t.deepEqual(s.get("/kubepods/pod-b/app"), { load1: 2, load5: 2, load15: 2 });
    t.deepEqual(s.get("/ctr-big"), { load1: 0, load5: 0, load15: 0 });
    t.false(s.keys().includes("/gone"));
  });
}

test("sampleCgroups drops keys whose cgroup directory was removed", (t) => {
  const tmp = mkdtempSync(join(tmpdir(), "procview-sampler-"));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  cpSync(join(FIXTURES_DIR, "v2"), tmp, { recursive: true, verbatimSymlinks: true });
  const layout = detectLayout(join(tmp, "cgroup"));
  const s = new LoadSampler();
  const targets = [
    { key: "a", paths: at("/ctr-small") },
    { key: "b", paths: at("/ctr-swap") },
  ];
  t.deepEqual(s.sampleCgroups(targets, { layout, procRoot: join(tmp, "proc") }).gone, []);
  rmSync(join(tmp, "cgroup", "ctr-swap"), { recursive: true });
  t.deepEqual(s.sampleCgroups(targets, { layout, procRoot: join(tmp, "proc") }).gone, ["b"]);
  t.deepEqual(s.keys(), ["a"]);
});
