// The layer rule (.dependency-cruiser.cjs, run by `npm run lint`) is itself tested: on a small
// tree laid out like the project it reports each kind of forbidden import and nothing else, and on
// the project's own tree it reports nothing.
import test from "ava";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cruise, type ICruiseResult } from "dependency-cruiser";
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { PACKAGE_ROOT } from "../../core/paths.js";

async function violations(baseDir: string): Promise<{ found: string[]; modules: number; dependencies: number }> {
  const options = await extractDepcruiseOptions(join(PACKAGE_ROOT, ".dependency-cruiser.cjs"));
  const tsConfig = extractTSConfig(join(PACKAGE_ROOT, "tsconfig.json"));
  const { output } = await cruise(["."], { ...options, baseDir, validate: true }, {}, { tsConfig });
  const result = output as ICruiseResult;
  return {
    found: result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`).sort(),
    modules: result.summary.totalCruised,
    dependencies: result.summary.totalDependenciesCruised ?? 0,
  };
}

/** A module at `path` importing each of `imports` (package-relative paths of other modules). */
function module(root: string, path: string, imports: string[] = []): void {
  const lines = imports.map((target, i) => {
    let relative = join(
      ...dirname(path)
        .split("/")
        .map(() => ".."),
      target,
    ).replace(/\.ts$/, ".js");
    if (!relative.startsWith(".")) relative = `./${relative}`;
    return `import { value as v${i} } from "${relative}";\nvoid v${i};`;
  });
  mkdirSync(join(root, dirname(path)), { recursive: true });
  writeFileSync(join(root, path), `${lines.join("\n")}\nexport const value = 1;\n`);
}

test("the layer rule reports an upward import, a sideways one between hook and nri, test code in the product, a cycle, and a unit test using testbed/", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "procview-layers-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // Allowed: every layer importing the ones below it, tests importing anything, a live test using testbed/.
  module(root, "core/paths.ts");
  module(root, "fuse/kernel/protocol.ts", ["core/paths.ts"]);
  module(root, "fuse/cgroup/caller.ts", ["fuse/kernel/protocol.ts"]);
  module(root, "fuse/views/meminfo.ts", ["fuse/cgroup/caller.ts"]);
  module(root, "fuse/server/render.ts", ["fuse/views/meminfo.ts"]);
  module(root, "fuse/keeper/keeper.ts", ["fuse/server/render.ts"]);
  module(root, "plan/plan.ts", ["fuse/keeper/keeper.ts"]);
  module(root, "hook/run.ts", ["plan/plan.ts"]);
  module(root, "nri/plugin.ts", ["plan/plan.ts"]);
  module(root, "install/hooks-file.ts", ["hook/run.ts", "nri/plugin.ts"]);
  module(root, "cli/procview.ts", ["install/hooks-file.ts"]);
  module(root, "scripts/build.ts", ["core/paths.ts"]);
  module(root, "testbed/cgroups.ts", ["cli/procview.ts"]);
  module(root, "bench/run.ts", ["testbed/cgroups.ts"]);
  module(root, "test/support/helper.ts", ["testbed/cgroups.ts"]);
  module(root, "test/views/meminfo.test.ts", ["fuse/views/meminfo.ts", "test/support/helper.ts"]);
  module(root, "test/fuse/protocol.live.test.ts", ["testbed/cgroups.ts"]);
  // Forbidden, one of each kind.
  module(root, "core/upward.ts", ["cli/procview.ts"]);
  module(root, "fuse/views/upward.ts", ["fuse/server/render.ts"]);
  module(root, "hook/sideways.ts", ["nri/plugin.ts"]);
  module(root, "scripts/upward.ts", ["fuse/kernel/protocol.ts"]);
  module(root, "bench/uses-tests.ts", ["test/support/helper.ts"]);
  module(root, "fuse/server/cycle-a.ts", ["fuse/server/cycle-b.ts"]);
  module(root, "fuse/server/cycle-b.ts", ["fuse/server/cycle-a.ts"]);
  module(root, "test/cgroup/machine.test.ts", ["testbed/cgroups.ts"]);

  const { found, dependencies } = await violations(root);
  t.is(dependencies, 26, "every import in the tree was resolved and looked at");
  t.deepEqual(found, [
    "hook-and-nri-are-siblings: hook/sideways.ts → nri/plugin.ts",
    "no-cycles: fuse/server/cycle-a.ts → fuse/server/cycle-b.ts",
    "no-tests-in-the-product: bench/uses-tests.ts → test/support/helper.ts",
    "no-upward-from-core: core/upward.ts → cli/procview.ts",
    "no-upward-from-fuse-views: fuse/views/upward.ts → fuse/server/render.ts",
    "scripts-see-core-only: scripts/upward.ts → fuse/kernel/protocol.ts",
    "unit-tests-stay-off-the-machine: test/cgroup/machine.test.ts → testbed/cgroups.ts",
  ]);
});

test("the project's own tree has no forbidden import", async (t) => {
  const { found, modules } = await violations(PACKAGE_ROOT);
  t.true(modules > 150, `cruised ${modules} modules`);
  t.deepEqual(found, []);
});
