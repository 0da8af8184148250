// The record of an instance's connections, which scopes the restore of dead views to its own.
import test from "ava";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { recordConnections, recordedDevices } from "../../fuse/keeper/restore.js";

const dir = (): string => mkdtempSync(path.join(tmpdir(), "procview-record-"));

test("no record (a first start, or a record that is not ours) names no device: nothing is brought back", (t) => {
  const d = dir();
  t.deepEqual([...recordedDevices(path.join(d, "absent.connections"))], []);
  const bad = path.join(d, "bad.connections");
  writeFileSync(bad, "not json");
  t.deepEqual([...recordedDevices(bad)], []);
  writeFileSync(bad, JSON.stringify({ devices: ["0:53", "../x", 7, "1:2:3"] }));
  t.deepEqual([...recordedDevices(bad)], ["0:53"]);
});

test("a record is written whole, root's alone, and read back", (t) => {
  const record = path.join(dir(), "m.connections");
  // "/" is mounted here, with no procview connection on it: an empty list, still a record.
  recordConnections("/", record);
  t.is(statSync(record).mode & 0o777, 0o600);
  t.deepEqual([...recordedDevices(record)], []);
});
