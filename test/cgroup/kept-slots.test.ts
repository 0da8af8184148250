// Kept descriptors when there are more files than slots: each file read is kept (the least
// recently used one gives its slot up), every read is fresh, and slots the sweeper frees are
// taken again. Plain files stand in for cgroup files: a kept descriptor is re-read with pread.
import test from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { openUnder } from "../support/proc-self.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KEPT_IDLE_MS, KeptSweeper, createKeptRegistryBuffers, readKept, useKeptRegistry } from "../../fuse/cgroup/kept-files.js";

const SLOTS = 8;
const FILES = 20;

test("more files than slots: each read is kept in the slot the oldest gave up, and slots the sweeper freed are taken again", (t) => {
  const registry = createKeptRegistryBuffers(1, SLOTS);
  useKeptRegistry(registry, 0);
  const sweeper = new KeptSweeper(registry);
  const dir = mkdtempSync(join(tmpdir(), "procview-kept-slots-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const paths = Array.from({ length: FILES }, (_, i) => join(dir, `file-${i}`));
  const readRound = (round: number): void => {
    for (const [i, path] of paths.entries()) {
      writeFileSync(path, `file ${i} round ${round}\n`);
      const read = readKept(path);
      t.is(read.text, `file ${i} round ${round}\n`);
    }
  };
  for (let round = 0; round < 3; round++) {
    readRound(round);
    t.is(openUnder(dir), SLOTS, `round ${round}: as many kept as there are slots`);
  }
  // The last SLOTS files read are kept: read again, through the descriptor kept.
  writeFileSync(paths[FILES - 1]!, "changed\n");
  t.deepEqual(readKept(paths[FILES - 1]!), { text: "changed\n", opened: false });
  t.is(sweeper.sweep(Date.now() + KEPT_IDLE_MS + 1000), SLOTS, "idle past the lifetime: every one closed");
  t.is(openUnder(dir), 0);
  readRound(3);
  t.is(openUnder(dir), SLOTS, "the slots the sweeper freed are taken again");
  for (let round = 4; round < 6; round++) readRound(round);
  t.is(openUnder(dir), SLOTS);
});
