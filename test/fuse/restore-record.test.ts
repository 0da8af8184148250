// The record of an instance's connections, in its registry directory, which scopes the restore of
// dead views to its own.
import test from "ava";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectionsRecord, recordConnections, recordedDevices } from "../../fuse/keeper/restore.js";

const dir = (): string => mkdtempSync(path.join(tmpdir(), "procview-record-"));

test("no record (a first start, or a record that is not ours) names no device: nothing is brought back", (t) => {
  const registry = dir();
  t.is(recordedDevices(path.join(registry, "absent")), null);
  writeFileSync(connectionsRecord(registry), "not json");
  t.is(recordedDevices(registry), null);
  writeFileSync(connectionsRecord(registry), JSON.stringify({ devices: ["0:53", "../x", 7, "1:2:3"] }));
  t.deepEqual([...recordedDevices(registry)!], ["0:53"]);
});

test("a record is written whole, root's alone, and read back; the registry directory is made if need be", (t) => {
  const registry = path.join(dir(), "registry");
  // "/" is mounted here, with no procview connection on it: an empty list, still a record.
  recordConnections("/", registry);
  t.is(statSync(connectionsRecord(registry)).mode & 0o777, 0o600);
  t.deepEqual([...recordedDevices(registry)!], []);
});
