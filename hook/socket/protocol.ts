// The wire format between procview-hook (hook/native/procview-hook.c) and the serving process; the C
// source has the description. Decoding is strict: anything malformed is an error, never a
// partial request.
import { z } from "zod";
import { describeZodError } from "../../core/errors.js";

export const MAGIC = "PVH1";
export const MAX_ARGS = 64;
export const MAX_ARG_BYTES = 4096;
export const MAX_STATE_BYTES = 1 << 20;
/** The client gives up on an answer after 10 s (REPLY_TIMEOUT_S) and falls back to the Node hook. */
export const HOOK_WATCHDOG_MS = 8_000;

export const HookRequestSchema = z.object({
  /** The client's "mnt:[N] pid:[N]" (see the C source). */
  namespaces: z.string().max(160),
  args: z.array(z.string().max(MAX_ARG_BYTES)).max(MAX_ARGS),
  stdin: z.string().max(MAX_STATE_BYTES),
});
export type HookRequest = z.infer<typeof HookRequestSchema>;

export type Decoded = { kind: "incomplete" } | { kind: "request"; request: HookRequest } | { kind: "invalid"; why: string };

/** Decodes one request from the bytes received so far (the client sends one per connection). */
export function decodeRequest(buf: Buffer): Decoded {
  if (
    !MAGIC.startsWith(buf.toString("latin1", 0, Math.min(4, buf.length))) ||
    (buf.length >= 4 && buf.toString("latin1", 0, 4) !== MAGIC)
  ) {
    return { kind: "invalid", why: "not a procview-hook request" };
  }
  if (buf.length < 8) return { kind: "incomplete" };
  const nsLength = buf.readUInt32LE(4);
  if (nsLength > 160) return { kind: "invalid", why: "namespaces longer than 160 bytes" };
  if (buf.length < 12 + nsLength) return { kind: "incomplete" };
  const namespaces = buf.toString("utf8", 8, 8 + nsLength);
  const count = buf.readUInt32LE(8 + nsLength);
  if (count > MAX_ARGS) return { kind: "invalid", why: `${count} arguments (at most ${MAX_ARGS})` };
  let at = 12 + nsLength;
  const args: string[] = [];
  for (let i = 0; i <= count; i++) {
    if (buf.length < at + 4) return { kind: "incomplete" };
    const length = buf.readUInt32LE(at);
    const limit = i < count ? MAX_ARG_BYTES : MAX_STATE_BYTES;
    if (length > limit)
      return {
        kind: "invalid",
        why: i < count ? `argument ${i + 1} is longer than ${limit} bytes` : `OCI state is larger than ${limit} bytes`,
      };
    at += 4;
    if (buf.length < at + length) return { kind: "incomplete" };
    const text = buf.toString("utf8", at, at + length);
    at += length;
    if (i < count) args.push(text);
    else {
      if (buf.length !== at) return { kind: "invalid", why: "bytes after the request" };
      const parsed = HookRequestSchema.safeParse({ namespaces, args, stdin: text });
      return parsed.success ? { kind: "request", request: parsed.data } : { kind: "invalid", why: describeZodError(parsed.error) };
    }
  }
  return { kind: "invalid", why: "unreachable" };
}

export function encodeRequest(request: HookRequest): Buffer {
  const ns = Buffer.from(request.namespaces, "utf8");
  const parts: Buffer[] = [Buffer.from(MAGIC, "latin1"), u32(ns.length), ns, u32(request.args.length)];
  for (const a of request.args) {
    const bytes = Buffer.from(a, "utf8");
    parts.push(u32(bytes.length), bytes);
  }
  const stdin = Buffer.from(request.stdin, "utf8");
  parts.push(u32(stdin.length), stdin);
  return Buffer.concat(parts);
}

export function encodeReply(code: number, stderrLines: readonly string[]): Buffer {
  const text = Buffer.from(stderrLines.map((l) => l + "\n").join(""), "utf8").subarray(0, 64 * 1024);
  return Buffer.concat([u32(code & 0xff), u32(text.length), text]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}
