// procview-hook, the hook's C client, against the serving process's socket end: the request it carries,
// the answer it relays, and every way of getting no answer, each ending in the Node hook (here a
// stand-in script) run with the same arguments and the same stdin.
import test from "ava";
import { readFile, rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { execa } from "execa";
import { decodeRequest, encodeReply, encodeRequest, MAX_ARGS, type HookRequest } from "../../hook/socket/protocol.js";
import { processNamespaces, startHookSocket, type HookHandler } from "../../hook/socket/server.js";
import { HOOK_CLIENT } from "../../core/paths.js";
import { fellBack, HOOK_ARGS, runClient, scratch, STATE } from "../support/hook-client.js";

test("protocol: a request survives encoding, every prefix is incomplete, and malformed input is refused", (t) => {
  const request: HookRequest = { namespaces: "mnt:[1] pid:[2]", args: ["--source", "/x", "ü"], stdin: STATE };
  const bytes = encodeRequest(request);
  t.deepEqual(decodeRequest(bytes), { kind: "request", request });
  for (let n = 0; n < bytes.length; n++) t.is(decodeRequest(bytes.subarray(0, n)).kind, "incomplete", `prefix of ${n} bytes`);
  t.is(decodeRequest(Buffer.concat([bytes, Buffer.from("x")])).kind, "invalid", "bytes after the request");
  t.is(decodeRequest(Buffer.from("GET / HTTP/1.1\r\n")).kind, "invalid", "not our magic");
  const tooMany = encodeRequest({ namespaces: "", args: Array.from({ length: MAX_ARGS + 1 }, () => "a"), stdin: "" });
  t.is(decodeRequest(tooMany).kind, "invalid");
  const reply = encodeReply(1, ["one", "two"]);
  t.is(reply.readUInt32LE(0), 1);
  t.is(reply.subarray(8).toString(), "one\ntwo\n");
});

test("answered by the serving process: the request carries the arguments and stdin, the answer is relayed", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  const seen: HookRequest[] = [];
  const handle: HookHandler = (request) => {
    seen.push(request);
    return Promise.resolve({ code: 3, stderr: ["procview-hook: from the serving process"] });
  };
  const server = await startHookSocket({ path: socket, log: () => undefined, handle });
  t.teardown(() => server.close());
  t.is((await stat(socket)).mode & 0o777, 0o600, "root only");

  const r = await runClient(socket, fallback);
  t.is(r.exitCode, 3);
  t.is(r.stderr, "procview-hook: from the serving process");
  t.deepEqual(seen, [{ namespaces: processNamespaces(), args: HOOK_ARGS, stdin: STATE }], "the client (in our namespaces) says so");
  await t.throwsAsync(readFile(path.join(dir, "fallback.stdin")), undefined, "no fallback ran");
  // Counted once the client had the whole answer (the keeper publishes this count).
  for (let waited = 0; server.served() === 0 && waited < 1000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(server.served(), 1);
});

test("nobody listens: the Node hook runs with the same arguments and stdin", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  await fellBack(t, dir, await runClient(socket, fallback));
});

test("a dead socket left behind (ECONNREFUSED) also falls back", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  // What a SIGKILLed serving process leaves: the socket file, with nobody behind it.
  const listener = execa(process.execPath, [
    "-e",
    `require('net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => listener.stdout.once("data", () => resolve()));
  listener.kill("SIGKILL");
  await listener.catch(() => undefined);
  t.true((await stat(socket)).isSocket());
  await fellBack(t, dir, await runClient(socket, fallback));
});

test("the serving process fails mid-request (no answer) or answers nonsense: the Node hook runs", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  const server = await startHookSocket({
    path: socket,
    log: () => undefined,
    handle: () => Promise.reject(new Error("boom")),
  });
  t.teardown(() => server.close());
  await fellBack(t, dir, await runClient(socket, fallback));
  t.is(server.served(), 0);
  await server.close();

  const nonsense = createServer({ allowHalfOpen: true }, (s) =>
    s.end(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), () => s.destroy()),
  );
  await new Promise<void>((resolve) => nonsense.listen(socket, resolve));
  t.teardown(() => new Promise<void>((resolve) => nonsense.close(() => resolve())));
  await rm(path.join(dir, "fallback.stdin"));
  await fellBack(t, dir, await runClient(socket, fallback));
});

test("a successor takes the socket over; the predecessor closing does not remove it", async (t) => {
  const { socket } = await scratch(t);
  const first = await startHookSocket({ path: socket, log: () => undefined, handle: () => Promise.resolve({ code: 1, stderr: [] }) });
  const second = await startHookSocket({ path: socket, log: () => undefined, handle: () => Promise.resolve({ code: 2, stderr: [] }) });
  t.teardown(() => second.close());
  await first.close();
  const r = await execa(HOOK_CLIENT, ["--socket", socket, "--node", "/bin/false", "--bundle", "/x"], { input: "{}", reject: false });
  t.is(r.exitCode, 2, "the successor answers");
  await second.close();
  await t.throwsAsync(stat(socket), undefined, "the last one removes the file");
});

test("a retired serving process finishes the hook under way before it goes, and takes no new one", async (t) => {
  const { dir, socket, fallback } = await scratch(t);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const server = await startHookSocket({
    path: socket,
    log: () => undefined,
    handle: async () => {
      started();
      await gate;
      return { code: 5, stderr: ["finished"] };
    },
  });
  t.teardown(() => server.close());
  const client = runClient(socket, fallback);
  await running;
  let drained = false;
  const draining = server.drain().then(() => (drained = true));
  // Meanwhile a new client finds nobody accepting and runs the Node hook, and the drain waits on.
  await fellBack(t, dir, await runClient(socket, fallback));
  t.false(drained, "still answering the request under way");
  release();
  const r = await client;
  t.is(r.exitCode, 5, "the client got the answer, not a fallback");
  await draining;
  t.true(drained);
});

test("usage errors exit 2 without reading stdin or falling back", async (t) => {
  const r = await execa(HOOK_CLIENT, ["--socket", "/x"], { input: "{}", reject: false });
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /usage/);
  const relative = await execa(HOOK_CLIENT, ["--socket", "/x", "--node", "node", "--bundle", "/b"], { input: "{}", reject: false });
  t.is(relative.exitCode, 2, "node must be an absolute path");
});
