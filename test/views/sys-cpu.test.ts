import test from "ava";
import { renderCpuOffline, renderCpuOnline, renderCpuPossible, renderCpuPresent } from "../../fuse/views/index.js";

test("online, possible and present agree, renumbered from 0", (t) => {
  for (const render of [renderCpuOnline, renderCpuPossible, renderCpuPresent]) {
    t.is(render(1), "0\n");
    t.is(render(2), "0-1\n");
    t.is(render(4), "0-3\n");
  }
});

test("offline is the kernel's empty list", (t) => {
  t.is(renderCpuOffline(), "\n");
});
