// The fixture trees in the repository are trees the kernel could have made, and the validator
// (test/fixtures/validate.ts) says so only of those: each broken copy below breaks one rule of
// the kernel's, and is refused naming it.
import test from "ava";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateTree } from "../fixtures/validate.js";
import { FIXTURES_DIR, TREE_NAMES, type TreeName } from "../fixtures/index.js";
import { PODMAN_CTR, THREADED_CTR } from "../fixtures/spec.js";

const scratch = mkdtempSync(join(tmpdir(), "procview-fixture-rules-"));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

for (const tree of TREE_NAMES) {
  test(`the ${tree} tree is one the kernel could have made`, (t) => {
    t.deepEqual(validateTree(join(FIXTURES_DIR, tree), tree), []);
  });
}

let copies = 0;
/** A copy of a tree, changed by `breakIt` (given the copy's cgroup and proc roots). */
function broken(tree: TreeName, breakIt: (cgroup: string, proc: string) => void): string[] {
  const dir = join(scratch, `${tree}-${copies++}`);
  cpSync(join(FIXTURES_DIR, tree), dir, { recursive: true, verbatimSymlinks: true });
  breakIt(join(dir, "cgroup"), join(dir, "proc"));
  return validateTree(dir, tree);
}

/** Every file below `dir` whose name matches. */
function filesNamed(dir: string, name: RegExp): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && name.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

const refused = (problems: string[], pattern: RegExp) => problems.some((p) => pattern.test(p));

test("v2: a process in a cgroup that enables controllers for its children (the old ctr-systemd shape)", (t) => {
  const problems = broken("v2", (cgroup, proc) => {
    // systemd back in /ctr-systemd beside the system.slice it runs.
    writeFileSync(join(cgroup, "ctr-systemd/init.scope/cgroup.procs"), "");
    writeFileSync(join(cgroup, "ctr-systemd/init.scope/cgroup.threads"), "");
    writeFileSync(join(cgroup, "ctr-systemd/cgroup.procs"), "3000\n");
    writeFileSync(join(cgroup, "ctr-systemd/cgroup.threads"), "3000\n");
    writeFileSync(join(proc, "3000/cgroup"), "0::/ctr-systemd\n");
  });
  t.true(refused(problems, /^\/ctr-systemd: holds processes and enables .* for its children/), problems.join("\n"));
});

test("v2: a controller's files where it is not enabled, and missing where it is", (t) => {
  const problems = broken("v2", (cgroup) => {
    writeFileSync(join(cgroup, "batch.slice/job-1.scope/memory.current"), "4096\n");
    unlinkSync(join(cgroup, "ctr-small/cpu.max"));
  });
  t.true(refused(problems, /job-1\.scope: has memory\.current without the memory controller/), problems.join("\n"));
  t.true(refused(problems, /\/ctr-small: has cpu but no cpu\.max/), problems.join("\n"));
});

test("v2: cgroup.controllers that are not the parent's subtree_control", (t) => {
  const problems = broken("v2", (cgroup) =>
    writeFileSync(join(cgroup, "kubepods/pod-a/ctr/cgroup.controllers"), "cpuset cpu io memory pids\n"),
  );
  t.true(refused(problems, /pod-a\/ctr: cgroup\.controllers .* is not its parent's subtree_control/), problems.join("\n"));
});

test("v2: swap accounting in some cgroups only", (t) => {
  const problems = broken("v2", (cgroup) => {
    unlinkSync(join(cgroup, "ctr-big/memory.swap.current"));
    unlinkSync(join(cgroup, "ctr-big/memory.swap.max"));
  });
  t.true(refused(problems, /^swap accounting in \d+ of \d+ cgroups/), problems.join("\n"));
});

test("v2: no swap accounting anywhere is a tree the kernel makes (swapaccount off)", (t) => {
  const problems = broken("v2", (cgroup) => {
    for (const file of filesNamed(cgroup, /^memory\.swap\./)) unlinkSync(file);
  });
  t.deepEqual(problems, []);
});

test("v2: an effective cpuset that is not the cgroup's within its parent's", (t) => {
  const problems = broken("v2", (cgroup) => writeFileSync(join(cgroup, "ctr-small/cpuset.cpus.effective"), "0-1\n"));
  t.true(refused(problems, /\/ctr-small: cpuset\.cpus\.effective is not its cpus within its parent's/), problems.join("\n"));
});

test("v2: threads: a domain child of a threaded domain, a domain controller in a threaded subtree, a thread outside its process's subtree", (t) => {
  const problems = broken("v2", (cgroup, proc) => {
    mkdirSync(join(cgroup, THREADED_CTR, "emulator"));
    for (const f of ["cgroup.controllers", "cgroup.subtree_control", "cgroup.threads", "cgroup.procs", "cpu.stat"])
      writeFileSync(join(cgroup, THREADED_CTR, "emulator", f), f === "cgroup.controllers" ? "cpu pids\n" : "");
    writeFileSync(join(cgroup, THREADED_CTR, "emulator/cgroup.type"), "domain\n");
    writeFileSync(join(cgroup, THREADED_CTR, "cgroup.subtree_control"), "cpu memory pids\n");
    // vCPU 1's thread moved out to the podman container.
    writeFileSync(join(cgroup, THREADED_CTR, "vcpu1/cgroup.threads"), "");
    appendFileSync(join(cgroup, PODMAN_CTR, "init.scope/cgroup.threads"), "8002\n");
    writeFileSync(join(proc, "8002/cgroup"), `0::${PODMAN_CTR}/init.scope\n`);
  });
  t.true(refused(problems, /emulator: a domain child of a threaded domain/), problems.join("\n"));
  t.true(refused(problems, /enables memory inside a threaded subtree/), problems.join("\n"));
  t.true(refused(problems, /thread 8002 is in .*, outside the threaded subtree of its process/), problems.join("\n"));
});

test("v2: a thread listed in two cgroups, and a process its cgroup does not list", (t) => {
  const problems = broken("v2", (cgroup) => {
    appendFileSync(join(cgroup, "ctr-small/cgroup.threads"), "1300\n");
    writeFileSync(join(cgroup, "ctr-big/cgroup.threads"), "");
  });
  t.true(refused(problems, /lists thread 1300, already in|lists thread 1300, whose cgroup is/), problems.join("\n"));
  t.true(refused(problems, /process 1100 is in \/ctr-big, whose cgroup\.threads does not list it/), problems.join("\n"));
});

test("v2: a parent charged less memory than its children", (t) => {
  const problems = broken("v2", (cgroup) => writeFileSync(join(cgroup, "kubepods/memory.current"), "1048576\n"));
  t.true(refused(problems, /\/kubepods: memory\.current 1048576 is less than its children's/), problems.join("\n"));
});

test("v1: memsw in some cgroups only, and a task listed where /proc does not put it", (t) => {
  const problems = broken("v1", (cgroup, proc) => {
    unlinkSync(join(cgroup, "memory/ctr-big/memory.memsw.usage_in_bytes"));
    writeFileSync(join(cgroup, "cpuacct/ctr-small/tasks"), "1300\n");
    void proc;
  });
  t.true(refused(problems, /^memsw accounting in \d+ of \d+ memory cgroups/), problems.join("\n"));
  t.true(refused(problems, /cpuacct\/ctr-small: lists task 1300, whose cpuacct cgroup is \/ctr-swap/), problems.join("\n"));
});
