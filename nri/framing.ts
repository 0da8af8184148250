// The two framings on an NRI socket.
//
// 1. NRI's multiplexer (github.com/containerd/nri pkg/net/multiplex/mux.go)
//    carries several byte streams over the one unix socket ("trunk"): every
//    write is a frame of an 8-byte header, big-endian connection id (uint32)
//    and payload length (uint32, at most 16 MiB), then the payload. Id 1
//    (PluginServiceConn) carries the ttrpc connection on which the plugin is
//    the server (Configure, Synchronize, CreateContainer, ...), id 2
//    (RuntimeServiceConn) the one on which the runtime is the server
//    (RegisterPlugin, UpdateContainers). A frame is a chunk of a byte stream,
//    not a message: one ttrpc message may span frames.
// 2. ttrpc (github.com/containerd/ttrpc channel.go) on each of those streams:
//    a 10-byte header, big-endian length (uint32, at most 4 MiB), stream id
//    (uint32; a client numbers its calls 1, 3, 5, ...), type (1 request,
//    2 response, 3 data) and flags (uint8), then the protobuf payload.
//
// Written by hand because no library does either in JavaScript: the npm registry has no
// ttrpc implementation and nothing that speaks NRI's multiplexer, and both are a few dozen
// lines of length-prefixed framing. The messages inside are generated code (messages.ts).

export const MUX_HEADER_LENGTH = 8;
export const MUX_MAX_PAYLOAD = 1 << 24;
export const PLUGIN_SERVICE_CONN = 1;
export const RUNTIME_SERVICE_CONN = 2;

export const TTRPC_HEADER_LENGTH = 10;
/** What ttrpc allows a sender; procview never sends more. */
export const TTRPC_MAX_MESSAGE = 4 << 20;
/**
 * What procview accepts from the runtime. NRI before 0.7 (containerd 1.7) sends Synchronize
 * in one message however large the node's state is, and ttrpc before 1.2.5 sends it past the
 * 4 MiB limit; a Go plugin rejects it and the runtime drops the plugin. Taking it keeps the
 * plugin connected on such nodes; the bound only stops a broken peer from exhausting memory.
 */
export const RUNTIME_MESSAGE_MAX = 64 << 20;
export const TtrpcType = { REQUEST: 1, RESPONSE: 2, DATA: 3 } as const;

export class FramingError extends Error {}

export function encodeMuxFrame(connId: number, payload: Uint8Array): Buffer {
  if (payload.length > MUX_MAX_PAYLOAD) throw new FramingError(`mux payload of ${payload.length} bytes exceeds ${MUX_MAX_PAYLOAD}`);
  const hdr = Buffer.alloc(MUX_HEADER_LENGTH);
  hdr.writeUInt32BE(connId, 0);
  hdr.writeUInt32BE(payload.length, 4);
  return Buffer.concat([hdr, payload]);
}

/** Accumulates bytes and cuts them at header-announced lengths. */
class LengthPrefixedReader<T> {
  // Chunks are kept apart until a whole unit is there: joining on every chunk would copy a
  // large message once per chunk.
  private chunks: Buffer[] = [];
  private length = 0;
  constructor(
    private readonly headerLength: number,
    private readonly lengthOf: (hdr: Buffer) => number,
    private readonly max: number,
    private readonly make: (hdr: Buffer, payload: Buffer) => T,
    private readonly what: string,
  ) {}

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.length);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return all.subarray(0, n);
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0]!.subarray(0, n);
  }

  push(chunk: Uint8Array): T[] {
    if (chunk.length) {
      this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      this.length += chunk.length;
    }
    const out: T[] = [];
    while (this.length >= this.headerLength) {
      const len = this.lengthOf(this.peek(this.headerLength));
      if (len > this.max) throw new FramingError(`${this.what} announces ${len} bytes, more than the ${this.max} allowed`);
      if (this.length < this.headerLength + len) break;
      const unit = this.take(this.headerLength + len);
      // Copy: the payload outlives the chunk it was cut from.
      out.push(this.make(unit.subarray(0, this.headerLength), Buffer.from(unit.subarray(this.headerLength))));
    }
    return out;
  }

  /** Bytes received but not yet part of a whole unit. */
  get pending(): number {
    return this.length;
  }
}

export interface MuxFrame {
  connId: number;
  payload: Buffer;
}

export class MuxReader extends LengthPrefixedReader<MuxFrame> {
  constructor() {
    super(
      MUX_HEADER_LENGTH,
      (h) => h.readUInt32BE(4),
      MUX_MAX_PAYLOAD,
      (h, payload) => ({ connId: h.readUInt32BE(0), payload }),
      "mux frame",
    );
  }
}

export interface TtrpcMessage {
  streamId: number;
  type: number;
  flags: number;
  payload: Uint8Array;
}

export function encodeTtrpcMessage(m: TtrpcMessage): Buffer {
  if (m.payload.length > TTRPC_MAX_MESSAGE)
    throw new FramingError(`ttrpc message of ${m.payload.length} bytes exceeds ${TTRPC_MAX_MESSAGE}`);
  const hdr = Buffer.alloc(TTRPC_HEADER_LENGTH);
  hdr.writeUInt32BE(m.payload.length, 0);
  hdr.writeUInt32BE(m.streamId, 4);
  hdr.writeUInt8(m.type, 8);
  hdr.writeUInt8(m.flags, 9);
  return Buffer.concat([hdr, m.payload]);
}

export class TtrpcReader extends LengthPrefixedReader<TtrpcMessage> {
  constructor(max = TTRPC_MAX_MESSAGE) {
    super(
      TTRPC_HEADER_LENGTH,
      (h) => h.readUInt32BE(0),
      max,
      (h, payload) => ({ streamId: h.readUInt32BE(4), type: h.readUInt8(8), flags: h.readUInt8(9), payload }),
      "ttrpc message",
    );
  }
}
