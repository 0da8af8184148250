// The few protobuf (proto3) wire-format pieces NRI's ttrpc needs: a writer for
// the messages we send and a field reader for the ones we receive. Written by
// hand so the plugin has no generated code and no .proto file to find at run
// time; the field numbers are NRI's api.proto and ttrpc's request.proto, and
// test/nri/codec.test.ts checks both directions against the real .proto files
// through protobufjs.

export const WireType = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

/** Builds one message. Fields are appended in call order. */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];

  private varint(value: bigint): void {
    if (value < 0n) value = BigInt.asUintN(64, value); // negative int32/int64 are 10-byte varints
    const bytes: number[] = [];
    do {
      let b = Number(value & 0x7fn);
      value >>= 7n;
      if (value > 0n) b |= 0x80;
      bytes.push(b);
    } while (value > 0n);
    this.parts.push(Buffer.from(bytes));
  }

  private tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  /** int32, int64, uint32, uint64, enum; proto3 omits zero. */
  int(field: number, value: number | bigint): this {
    const v = BigInt(value);
    if (v === 0n) return this;
    this.tag(field, WireType.VARINT);
    this.varint(v);
    return this;
  }

  bool(field: number, value: boolean): this {
    return value ? this.int(field, 1) : this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LEN);
    this.varint(BigInt(value.length));
    this.parts.push(Buffer.from(value));
    return this;
  }

  /** proto3 omits empty strings. */
  string(field: number, value: string | undefined): this {
    if (!value) return this;
    return this.bytes(field, Buffer.from(value, "utf8"));
  }

  /** An embedded message; always written (an empty message still means "present"). */
  message(field: number, value: ProtoWriter | Uint8Array): this {
    return this.bytes(field, value instanceof ProtoWriter ? value.finish() : value);
  }

  /** map<string,string>: one entry message {key = 1, value = 2} per pair. */
  map(field: number, value: Record<string, string> | undefined): this {
    for (const [k, v] of Object.entries(value ?? {})) this.message(field, new ProtoWriter().string(1, k).string(2, v));
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export type Field =
  | { field: number; wire: typeof WireType.VARINT; value: bigint }
  | { field: number; wire: typeof WireType.LEN; value: Buffer }
  | { field: number; wire: typeof WireType.I64 | typeof WireType.I32; value: Buffer };

export class ProtoError extends Error {}

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos >= buf.length) throw new ProtoError("truncated varint");
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [BigInt.asUintN(64, result), pos];
    shift += 7n;
  }
  throw new ProtoError("varint longer than 10 bytes");
}

/** Every field of one message, in wire order. Unknown fields are returned too (callers skip them). */
export function readFields(buf: Uint8Array): Field[] {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Field[] = [];
  let pos = 0;
  while (pos < b.length) {
    const [key, p1] = readVarint(b, pos);
    pos = p1;
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) throw new ProtoError("field number 0");
    switch (wire) {
      case WireType.VARINT: {
        const [v, p2] = readVarint(b, pos);
        pos = p2;
        out.push({ field, wire, value: v });
        break;
      }
      case WireType.LEN: {
        const [len, p2] = readVarint(b, pos);
        const end = p2 + Number(len);
        if (len > BigInt(b.length) || end > b.length) throw new ProtoError(`field ${field}: length ${len} past the end of the message`);
        out.push({ field, wire, value: b.subarray(p2, end) });
        pos = end;
        break;
      }
      case WireType.I64:
      case WireType.I32: {
        const n = wire === WireType.I64 ? 8 : 4;
        if (pos + n > b.length) throw new ProtoError(`field ${field}: truncated fixed${n * 8}`);
        out.push({ field, wire, value: b.subarray(pos, pos + n) });
        pos += n;
        break;
      }
      default:
        throw new ProtoError(`field ${field}: unsupported wire type ${wire}`);
    }
  }
  return out;
}

function expectLen(f: Field): Buffer {
  if (f.wire !== WireType.LEN) throw new ProtoError(`field ${f.field}: expected a length-delimited value, got wire type ${f.wire}`);
  return f.value;
}

export const asString = (f: Field): string => expectLen(f).toString("utf8");
export const asBytes = (f: Field): Buffer => expectLen(f);
export function asVarint(f: Field): bigint {
  if (f.wire !== WireType.VARINT) throw new ProtoError(`field ${f.field}: expected a varint, got wire type ${f.wire}`);
  return f.value;
}
/** int32 as the sender meant it (negative values arrive sign-extended to 64 bits). */
export const asInt32 = (f: Field): number => Number(BigInt.asIntN(32, asVarint(f)));
export const asInt64 = (f: Field): bigint => BigInt.asIntN(64, asVarint(f));

/** Decode one map<string,string> entry. */
export function asMapEntry(f: Field): [string, string] {
  let key = "";
  let value = "";
  for (const e of readFields(asBytes(f))) {
    if (e.field === 1) key = asString(e);
    else if (e.field === 2) value = asString(e);
  }
  return [key, value];
}
