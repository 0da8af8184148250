// The registry of containers (core/registry.ts): what the integrations write and the serving
// process reads, and what it refuses.
import test from "ava";
import { mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { containerHash } from "../../core/layout.js";
import { register, registeredIds, registration, registrationStamp, unregister } from "../../core/registry.js";

const dir = () => join(mkdtempSync(join(tmpdir(), "procview-registry-")), "containers", "var-lib-procview");

test("a registration is written whole (0644), read back, listed and removed", (t) => {
  const d = dir();
  register(d, { id: "abc", pid: 42, startTicks: 1234, by: "hook", at: 1 });
  register(d, { id: "k8s_ctr-1", cgroupsPath: "kubepods-besteffort-pod1.slice:cri-containerd:k8s_ctr-1", by: "nri", at: 2 });
  t.deepEqual(registration(d, "abc"), { id: "abc", pid: 42, startTicks: 1234, by: "hook", at: 1 });
  t.is(registration(d, "k8s_ctr-1")?.cgroupsPath, "kubepods-besteffort-pod1.slice:cri-containerd:k8s_ctr-1");
  t.deepEqual(registeredIds(d), ["abc", "k8s_ctr-1"]);
  t.is(statSync(join(d, "abc.json")).mode & 0o777, 0o644);
  t.deepEqual(readdirSync(d).sort(), [".lock", "abc.json", "k8s_ctr-1.json"], "no temporary file left (the lock stays)");
  unregister(d, "abc");
  t.deepEqual(registeredIds(d), ["k8s_ctr-1"]);
});

test("nothing for an id never registered, an invalid id, a file that is not a registration, or one naming another id", (t) => {
  const d = dir();
  register(d, { id: "good", pid: 1, startTicks: 0, by: "hook", at: 0 });
  t.is(registration(d, "missing"), null);
  t.is(registration(d, "../good"), null);
  writeFileSync(join(d, "bad.json"), "{ not json");
  t.is(registration(d, "bad"), null);
  writeFileSync(join(d, "other.json"), JSON.stringify({ id: "good", pid: 1, startTicks: 0, by: "hook", at: 0 }));
  t.is(registration(d, "other"), null);
  t.is(registration(join(d, "nowhere"), "good"), null);
  t.deepEqual(registeredIds(join(d, "nowhere")), []);
});

test("a registration names an init with its start time, or a cgroups path", (t) => {
  const d = dir();
  t.throws(() => register(d, { id: "x", pid: 5, by: "hook", at: 0 }));
  t.throws(() => register(d, { id: "x", by: "nri", at: 0 }));
  t.throws(() => register(d, { id: "-bad", cgroupsPath: "/a", by: "nri", at: 0 }));
});

test("a removal decided on a record read before a re-registration leaves the new record (the sweep's race with a restart)", (t) => {
  const d = dir();
  register(d, { id: "restarted", pid: 10, startTicks: 5, by: "hook", at: 1 });
  const stamp = registrationStamp(d, "restarted");
  t.truthy(stamp);
  // The container is started again (same id, new init) after the sweep read the old record.
  register(d, { id: "restarted", pid: 11, startTicks: 9, by: "hook", at: 2 });
  unregister(d, "restarted", stamp);
  t.is(registration(d, "restarted")?.pid, 11);
  unregister(d, "restarted", registrationStamp(d, "restarted"));
  t.is(registration(d, "restarted"), null);
  t.is(registrationStamp(d, "restarted"), null);
});

// Two ids with one hash (found by a birthday search over "tenant-<base 36>").
const COLLIDING = ["tenant-ki5z", "tenant-435kd"] as const;

test("an id whose node ids a registered container holds is refused; once that one is gone it is recorded", (t) => {
  t.is(containerHash(COLLIDING[0]), containerHash(COLLIDING[1]));
  const d = dir();
  register(d, { id: COLLIDING[0], cgroupsPath: "/a", by: "nri", at: 1 });
  t.throws(() => register(d, { id: COLLIDING[1], cgroupsPath: "/b", by: "nri", at: 2 }), {
    message: /same node ids as registered container tenant-ki5z/,
  });
  t.is(registration(d, COLLIDING[1]), null);
  register(d, { id: COLLIDING[0], cgroupsPath: "/c", by: "nri", at: 3 });
  t.is(registration(d, COLLIDING[0])?.cgroupsPath, "/c", "the holder itself registers again");
  unregister(d, COLLIDING[0]);
  register(d, { id: COLLIDING[1], cgroupsPath: "/b", by: "nri", at: 4 });
  t.is(registration(d, COLLIDING[1])?.cgroupsPath, "/b");
  t.deepEqual(registeredIds(d), [COLLIDING[1]]);
});
