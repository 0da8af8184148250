// No tenant can deny another an open: one that holds all it may (as root, or as an unprivileged
// user) or opens and closes from hundreds of threads costs neither another container nor the
// host a single open; its refusals are logged at most once per interval, with their count; the
// service's memory stays bounded.
import test from "ava";
import { chmodSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { residentKb, servingPid, startProcview, PROCVIEW_CLI, type RunningProcview } from "../../testbed/procview.js";
import { createCgroup, rootProcsFiles, runInCgroup, type TestCgroup } from "../../testbed/cgroups.js";
import { defaultShareLimits } from "../../fuse/server/share.js";
import { compileTestProgram } from "../support/c-program.js";

let service: RunningProcview;
let work = "";
let stress = "";
const groups: TestCgroup[] = [];
const MiB = 1024 * 1024;
const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];

test.before(async () => {
  // World-readable: the unprivileged tenant runs the program and writes its ready file here.
  work = mkdtempSync(join(tmpdir(), "procview-share-"));
  chmodSync(work, 0o777);
  stress = join(work, "open-stress");
  await compileTestProgram("open-stress.c", stress, ["-pthread"]);
  // In a directory the unprivileged tenant can reach.
  service = await startProcview({ mountPoint: join(work, "mnt") });
});
test.after.always(async () => {
  await service?.stop();
  for (const group of groups) {
    // A holder still holding (a test that failed early): only this test's processes are in there.
    for (const pid of readFileSync(group.procsFiles()[0]!, "utf8").split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // gone already
      }
    }
    await group.remove();
  }
});

/** A tenant placed as runc places a container on this host: the same cgroup in every v1
 * controller and in the cgroup2 hierarchy, so that its tenant is named by that one path. */
function group(): TestCgroup {
  const created = createCgroup({ memoryLimitBytes: 256 * MiB, unified: true });
  groups.push(created);
  return created;
}

interface StressResult {
  opens: number;
  failed: number;
  held: number;
  firstErrno: string;
}

function parse(line: string): StressResult {
  const field = (name: string) => /=(\S+)/.exec(line.slice(line.indexOf(`${name}=`)))?.[1] ?? "";
  return { opens: Number(field("opens")), failed: Number(field("failed")), held: Number(field("held")), firstErrno: field("first_errno") };
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const value = check();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const file = () => join(service.mountPoint, "proc/meminfo");
const stressIn = (g: string[], args: string[], seconds: number) => runInCgroup(g, args, { timeoutMs: (seconds + 60) * 1000 }).then(parse);

test.serial("a tenant holding all it may, as root or unprivileged, costs another tenant and the host no open", async (t) => {
  const [a, aNobody, b] = [group(), group(), group()];
  const serving = await servingPid(service.mountPoint);
  const rssBefore = residentKb(serving);
  const ready = [join(work, "a.ready"), join(work, "a-nobody.ready")];
  const HOLD = 25;
  const holders = [
    stressIn(a.procsFiles(), [stress, "hold", String(HOLD), file(), ready[0]!], HOLD),
    stressIn(aNobody.procsFiles(), [...NOBODY, stress, "hold", String(HOLD), file(), ready[1]!], HOLD),
  ];
  const filled = await Promise.all(ready.map((r) => waitFor(r, () => (existsSync(r) ? parse(readFileSync(r, "utf8")) : undefined))));
  const limits = defaultShareLimits();
  for (const [i, who] of ["root", "unprivileged"].entries()) {
    t.log(`A (${who}) holds ${filled[i]!.held} files, then ${filled[i]!.firstErrno}`);
    t.is(filled[i]!.firstErrno, "EMFILE", who);
    t.true(filled[i]!.held > 100 && filled[i]!.held <= limits.containerHandles, `${who}: ${filled[i]!.held}`);
  }
  // Meanwhile: another container, the host as root, a host user, and `procview status`.
  const SECONDS = 8;
  const [other, host, hostUser] = await Promise.all([
    stressIn(b.procsFiles(), [stress, "steady", String(SECONDS), file(), "4", "16"], SECONDS),
    stressIn(rootProcsFiles(), [stress, "steady", String(SECONDS), file(), "2", "16"], SECONDS),
    stressIn(rootProcsFiles(), [...NOBODY, stress, "steady", String(SECONDS), file(), "2", "16"], SECONDS),
  ]);
  const status = await execa(process.execPath, [PROCVIEW_CLI, "status", "--mountpoint", service.mountPoint], { reject: false });
  const rssHeld = residentKb(serving);
  for (const [who, r] of Object.entries({ "another container": other, "the host": host, "a host user": hostUser })) {
    t.log(`${who}: ${r.opens} opens, ${r.failed} failed`);
    t.true(r.opens > 1000, who);
    t.is(r.failed, 0, `${who}: ${r.firstErrno}`);
  }
  t.is(status.exitCode, 0, status.stdout);
  const held = await Promise.all(holders);
  t.log(`A kept trying while holding: ${held.map((h) => h.failed).join(" and ")} refusals`);
  // Refusals are reported once per tenant per 10 s, with their count.
  const lines = (tenant: string) =>
    service
      .output()
      .split("\n")
      .filter((l) => l.includes(`container ${tenant}: `) && l.includes("refused in the last"));
  const reported = await waitFor("A's refusal report", () => (lines(a.path).length > 0 ? lines(a.path) : undefined));
  t.log(reported[0]);
  t.regex(
    reported[0]!,
    /container \S+: \d+ opens refused in the last 10 s; it holds \d+ files, \d+ KiB \(its share: 1024 files, 4096 KiB\)/,
  );
  t.true(lines(a.path).length <= Math.ceil(HOLD / 10) + 1, `${lines(a.path).length} lines`);
  t.true(lines(aNobody.path).length <= Math.ceil(HOLD / 10) + 1);
  t.log(`serving process: ${rssBefore} KiB before, ${rssHeld} KiB with both tenants at their share`);
  t.true(rssHeld - rssBefore < 64 * 1024, `grew by ${rssHeld - rssBefore} KiB`);
});

test.serial("a tenant opening and closing from 256 threads costs another tenant and the host no open", async (t) => {
  const [a, b] = [group(), group()];
  const serving = await servingPid(service.mountPoint);
  const SECONDS = 8;
  const [churn, other, host] = await Promise.all([
    stressIn(a.procsFiles(), [stress, "churn", String(SECONDS), file(), "256"], SECONDS),
    stressIn(b.procsFiles(), [stress, "steady", String(SECONDS), file(), "4", "8"], SECONDS),
    stressIn(rootProcsFiles(), [stress, "steady", String(SECONDS), file(), "2", "8"], SECONDS),
  ]);
  t.log(`A, 256 threads: ${churn.opens} opens, ${churn.failed} failed; B: ${other.opens} opens; host: ${host.opens} opens`);
  t.log(`serving process: ${residentKb(serving)} KiB`);
  t.true(churn.opens > 1000);
  t.is(other.failed, 0, other.firstErrno);
  t.is(host.failed, 0, host.firstErrno);
});
