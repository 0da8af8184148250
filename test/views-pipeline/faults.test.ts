// Every errno the kernel can answer with, at every file procview reads for a request or a load
// sample, on both fixture trees: the renderer still answers every view (never throws, so never
// EIO), the load tracker still samples, and the reader is shown its own container's numbers or
// an ancestor's (the host's at the top), never tighter ones. Gone and not-applicable errnos
// (ENOENT, ENODEV, ESRCH, EOPNOTSUPP) are ordinary outcomes and say nothing; the others are
// reported, for the log.
//
// Files are failed where they are read (open, read of a kept descriptor, readlink, readdir) by
// wrapping node:fs (test/support/fs-faults.ts); the product runs unchanged. Files read once when
// the service starts (the layout, procview's own namespaces) are not request reads; a serving
// process that cannot read them dies whole (test/fuse/faults.live.test.ts).
import test from "ava";
import { basename } from "node:path";
import { createRenderer, type ViewRenderer } from "../../fuse/server/render.js";
import { LoadView } from "../../fuse/server/load/view.js";
import { LoadTable, createLoadTableBuffers } from "../../fuse/server/load/table.js";
import { LoadTracker } from "../../fuse/server/load/tracker.js";
import type { Problem } from "../../fuse/server/problems.js";
import type { CgroupPaths } from "../../fuse/cgroup/caller.js";
import { ERRNOS, installFsFaults, observeFs, setFault, type Errno, type Operation } from "../support/fs-faults.js";
import { expectedFor, fixtureRoots, scenariosOf, TREE_NAMES, type FixtureRoots, type TreeName } from "../fixtures/index.js";
import { VIEW_NAMES, type ViewName } from "../../core/layout.js";
import { expectedMeminfo, expectedVisible, hostText, meminfoValues, readAs } from "./expect.js";

installFsFaults();
test.after.always(() => setFault(null));

/**
 * Where a path is read, with pids and cgroup paths taken out: "/proc/<pid>/cgroup",
 * "<cgroup>/memory.stat", "<cgroup>/ (list)". null for what is not a process or cgroup read:
 * the host's own files (/proc/meminfo, …, /sys/…/online), which a host reader is handed as they
 * are and which only fail when procfs itself does, and procview's own namespaces, read at start.
 */
function siteOf(operation: Operation, path: string, roots: FixtureRoots): string | null {
  if (path === roots.procRoot) return "/proc/ (list)";
  if (path.startsWith(`${roots.procRoot}/`)) {
    const rest = path.slice(roots.procRoot.length);
    return /^\/\d+\//.test(rest) ? `/proc${rest.replace(/^\/\d+/, "/<pid>")}` : null;
  }
  if (path === roots.cgroupRoot || path.startsWith(`${roots.cgroupRoot}/`))
    return operation === "readdir" ? "<cgroup>/ (list)" : `<cgroup>/${basename(path)}`;
  return null;
}

const GONE: Errno[] = ["ENOENT", "ENODEV", "ESRCH", "EOPNOTSUPP"];

interface Use {
  tree: TreeName;
  scenario: string;
  pid: number;
  /** A view, or the load tracker's sample. */
  view: ViewName | "load sample";
  /** For a load sample: the container's paths. */
  paths?: CgroupPaths;
}

const options = (tree: TreeName) => ({ ...fixtureRoots(tree), useCpuQuota: true, cacheMs: 0 });

const freshRenderer = (tree: TreeName, problems: Problem[]): ViewRenderer => {
  const loads = new LoadView(new LoadTable(createLoadTableBuffers(64)), null, () => {});
  return createRenderer(options(tree), loads, (p) => problems.push(p));
};

/** What the main thread does for a container: track it (its tasks are counted at once), then
 * sample. `arm` runs once the tracker is made (it reads the layout once, at start). */
function sample(tree: TreeName, paths: CgroupPaths, logged: string[], arm: () => void = () => {}): void {
  const tracker = new LoadTracker(
    options(tree),
    new LoadTable(createLoadTableBuffers(8)),
    8,
    () => {},
    (line) => logged.push(line),
  );
  arm();
  tracker.track("container", paths);
  tracker.sampleAll();
}

/** The container's paths, as a serving thread asks the tracker to sample them. */
function containerPaths(tree: TreeName, pid: number): CgroupPaths | null {
  let paths: CgroupPaths | null = null;
  const loads = new LoadView(new LoadTable(createLoadTableBuffers(8)), null, (_key, p) => (paths = p));
  readAs(createRenderer(options(tree), loads), "meminfo", pid);
  return paths;
}

// Which files each view of each scenario reads, and which its load sample reads.
const uses = new Map<string, Use[]>();
for (const tree of TREE_NAMES) {
  const roots = fixtureRoots(tree);
  for (const scenario of scenariosOf(tree)) {
    const record = (use: Use) => (operation: Operation, path: string) => {
      const site = siteOf(operation, path, roots);
      if (site === null) return;
      const list = uses.get(site) ?? [];
      if (!list.some((u) => u.tree === use.tree && u.scenario === use.scenario && u.view === use.view)) list.push(use);
      uses.set(site, list);
    };
    for (const view of VIEW_NAMES) {
      const render = freshRenderer(tree, []);
      observeFs(record({ tree, scenario: scenario.name, pid: scenario.pid, view }));
      readAs(render, view, scenario.pid);
      observeFs(null);
    }
    const paths = containerPaths(tree, scenario.pid);
    if (paths === null) continue; // a host reader: nothing is sampled
    observeFs(record({ tree, scenario: scenario.name, pid: scenario.pid, view: "load sample", paths }));
    sample(tree, paths, []);
    observeFs(null);
  }
}

const processorCount = (text: string) => text.split("\n").filter((l) => /^processor\s*:/.test(l)).length;

test("the requests read files at every kind of site", (t) => {
  t.log([...uses.keys()].sort().join("\n"));
  for (const site of [
    "/proc/<pid>/cgroup",
    "/proc/<pid>/ns/pid",
    "/proc/<pid>/ns/cgroup",
    "/proc/<pid>/status",
    "/proc/<pid>/stat",
    "/proc/<pid>/mountinfo",
    "/proc/ (list)",
    "<cgroup>/ (list)",
    "<cgroup>/cgroup.controllers",
    "<cgroup>/cgroup.threads",
    "<cgroup>/cgroup.procs",
    "<cgroup>/tasks",
    "<cgroup>/memory.stat",
    "<cgroup>/memory.current",
    "<cgroup>/memory.max",
    "<cgroup>/memory.high",
    "<cgroup>/memory.swap.current",
    "<cgroup>/memory.swap.max",
    "<cgroup>/memory.usage_in_bytes",
    "<cgroup>/memory.memsw.usage_in_bytes",
    "<cgroup>/cpu.max",
    "<cgroup>/cpu.stat",
    "<cgroup>/cpu.cfs_quota_us",
    "<cgroup>/cpuacct.usage_all",
    "<cgroup>/cpuset.cpus.effective",
    "<cgroup>/cpuset.effective_cpus",
    "<cgroup>/io.stat",
    "<cgroup>/blkio.throttle.io_service_bytes_recursive",
  ])
    t.true(uses.has(site), `${site} is read`);
});

for (const [site, list] of [...uses].sort(([a], [b]) => a.localeCompare(b))) {
  // A few readers of each kind on each tree: views and load samples.
  const picked: Use[] = [];
  for (const use of list) {
    const similar = picked.filter((p) => p.tree === use.tree && (p.view === "load sample") === (use.view === "load sample"));
    if (similar.length < 4) picked.push(use);
  }
  for (const errno of ERRNOS) {
    test.serial(`${errno} at ${site}: the service keeps answering`, (t) => {
      const problems: Problem[] = [];
      const logged: string[] = [];
      try {
        for (const use of picked) {
          const roots = fixtureRoots(use.tree);
          // A fresh renderer per read, made before the fault (it reads the layout once, at start),
          // so that no cache hides the failing file.
          const arm = () => setFault({ errno, matches: (path, operation) => siteOf(operation, path, roots) === site });
          if (use.view === "load sample") {
            t.notThrows(() => sample(use.tree, use.paths!, logged, arm), `${use.tree} ${use.scenario}: the load sample`);
            setFault(null);
            continue;
          }
          const render = freshRenderer(use.tree, problems);
          arm();
          let text = "";
          t.notThrows(() => (text = readAs(render, use.view as ViewName, use.pid)), `${use.tree} ${use.scenario}: ${use.view}`);
          setFault(null);
          const scenario = scenariosOf(use.tree).find((s) => s.name === use.scenario)!;
          const e = expectedFor(scenario, use.tree);
          if (e.isHost) continue;
          // Never tighter than the container's own: its numbers, an ancestor's or the host's.
          if (use.view === "meminfo") {
            const want = expectedMeminfo(e, meminfoValues(hostText(use.tree).meminfo)).memTotal;
            t.true(meminfoValues(text).get("MemTotal")! >= want, `${use.tree} ${use.scenario}: MemTotal ≥ ${want} kB`);
          }
          if (use.view === "cpuinfo") t.true(processorCount(text) >= expectedVisible(e, true).length, `${use.tree} ${use.scenario}: CPUs`);
        }
      } finally {
        setFault(null);
      }
      if (GONE.includes(errno)) {
        t.deepEqual(problems, [], "gone or not applicable: an ordinary outcome, nothing to report");
        t.deepEqual(logged, []);
      } else t.true(problems.length + logged.length > 0, "reported, for the log");
    });
  }
}
