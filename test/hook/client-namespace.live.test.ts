// procview-hook from another mount namespace (unshare needs root): the serving process gives it
// no answer, so the Node hook runs, never the serving process with paths and pids it cannot read.
import test from "ava";
import { execa } from "execa";
import type { HookRequest } from "../../hook/socket/protocol.js";
import { startHookSocket } from "../../hook/socket/server.js";
import { HOOK_CLIENT } from "../../core/paths.js";
import { fellBack, HOOK_ARGS, scratch, STATE } from "../support/hook-client.js";

test("a client in another mount namespace gets no answer and runs the Node hook", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  const seen: HookRequest[] = [];
  const server = await startHookSocket({
    path: socket,
    log: () => undefined,
    handle: (request) => (seen.push(request), Promise.resolve({ code: 0, stderr: [] })),
  });
  t.teardown(() => server.close());
  const r = await execa(
    "unshare",
    ["--mount", "--", HOOK_CLIENT, "--socket", socket, "--node", "/bin/sh", "--bundle", fallback, "--", ...HOOK_ARGS],
    { input: STATE, reject: false },
  );
  await fellBack(t, dir, r);
  t.deepEqual(seen, [], "the serving process did not act on paths and pids of another namespace");
});
