// `procview status --this-container`: which part the keeper of the asking process's container
// (its mount namespace) plays, told apart from another pod's keeper on the same node.
import test from "ava";
import { mkdirSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { keeperHere } from "../../fuse/keeper/health.js";
import { KeeperStatusSchema, type KeeperStatus } from "../../fuse/keeper/status.js";

/** A /proc where each pid (and self) has the mount namespace given. */
function procWith(namespaces: Record<string, number>): string {
  const root = mkdtempSync(path.join(tmpdir(), "procview-proc-"));
  for (const [pid, ns] of Object.entries(namespaces)) {
    mkdirSync(path.join(root, pid, "ns"), { recursive: true });
    symlinkSync(`mnt:[${ns}]`, path.join(root, pid, "ns", "mnt"));
  }
  return root;
}

function status(keeperPid: number, successorPid: number | null): KeeperStatus {
  return KeeperStatusSchema.parse({
    mountPoint: "/var/lib/procview",
    keeperPid,
    keeperStartedAt: 0,
    servingPid: 11,
    servingStartedAt: 0,
    restarts: 0,
    reloads: 0,
    restoredViews: 0,
    opens: 0,
    rerendered: 0,
    renderFailures: 0,
    containers: 0,
    hooksServed: 0,
    hookSocket: null,
    successorWaiting: successorPid !== null,
    successorPid,
    updatedAt: 0,
  });
}

test("the keeper in this mount namespace serves: serving", (t) => {
  t.is(keeperHere(status(100, null), procWith({ self: 1, "100": 1 })), "serving");
  t.is(keeperHere(status(100, 200), procWith({ self: 1, "100": 1, "200": 2 })), "serving");
});

test("the keeper in this mount namespace waits to take over: taking-over", (t) => {
  t.is(keeperHere(status(100, 200), procWith({ self: 2, "100": 1, "200": 2 })), "taking-over");
});

test("another pod's keeper serves and none of ours waits (or ours is not registered yet): elsewhere", (t) => {
  t.is(keeperHere(status(100, null), procWith({ self: 2, "100": 1 })), "elsewhere");
  t.is(keeperHere(status(100, 300), procWith({ self: 2, "100": 1, "300": 3 })), "elsewhere");
  // A pid this process cannot see (another pid namespace) is nobody's here.
  t.is(keeperHere(status(100, 200), procWith({ self: 2 })), "elsewhere");
});
