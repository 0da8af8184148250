// Writers for the reply structs. They fill a caller-owned buffer in place: the request
// path allocates nothing per request, because what a read costs there is most of what a
// reader waits for, and what decides whether procview is faster than LXCFS.
import { ATTR_OUT_SIZE, ATTR_SIZE, DIRENT_HEADER_SIZE, ENTRY_OUT_SIZE, OUT_HEADER_SIZE } from "./protocol.js";

export interface NodeAttributes {
  ino: number;
  /** st_mode including the file type bits. */
  mode: number;
  nlink: number;
  size: number;
  /** How long the kernel may keep this entry and these attributes (seconds, fractions too),
   * instead of the timeouts for the node's kind (CacheTimeouts). */
  validSeconds?: number;
  /** Modification (and change) time, when the node has one of its own. */
  mtime?: Timestamp;
}

export interface Timestamp {
  seconds: number;
  nanoseconds: number;
}

/** Cache lifetimes handed to the kernel. The tree is static, so names and directory
 * attributes can be cached long. A file's attributes are not cached: its i_size is moved at
 * every open (see raiseSize in the request loop) and stat must still show 0, like /proc. */
export interface CacheTimeouts {
  entrySeconds: number;
  dirAttrSeconds: number;
  fileAttrSeconds: number;
}

function attrSeconds(attr: NodeAttributes, cache: CacheTimeouts): number {
  if (attr.validSeconds !== undefined) return attr.validSeconds;
  return (attr.mode & 0o170000) === 0o040000 ? cache.dirAttrSeconds : cache.fileAttrSeconds;
}

const TWO_32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_32), offset + 4);
}

export function readU64(buf: Buffer, offset: number): number {
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * TWO_32;
}

export function writeAttr(buf: Buffer, o: number, attr: NodeAttributes, time: Timestamp): void {
  buf.fill(0, o, o + ATTR_SIZE);
  writeU64(buf, o, attr.ino);
  writeU64(buf, o + 8, attr.size);
  writeU64(buf, o + 16, Math.ceil(attr.size / 512));
  const mtime = attr.mtime ?? time;
  writeU64(buf, o + 24, time.seconds);
  writeU64(buf, o + 32, mtime.seconds);
  writeU64(buf, o + 40, mtime.seconds);
  buf.writeUInt32LE(time.nanoseconds, o + 48);
  buf.writeUInt32LE(mtime.nanoseconds, o + 52);
  buf.writeUInt32LE(mtime.nanoseconds, o + 56);
  buf.writeUInt32LE(attr.mode, o + 60);
  buf.writeUInt32LE(attr.nlink, o + 64);
  // uid, gid, rdev stay 0 (root-owned, like /proc).
  buf.writeUInt32LE(4096, o + 80);
}

const wholeSeconds = (seconds: number): number => Math.floor(seconds);
const nanoseconds = (seconds: number): number => Math.round((seconds - Math.floor(seconds)) * 1e9) % 1e9;

/** fuse_entry_out at `o`; returns its size. */
export function writeEntryOut(buf: Buffer, o: number, attr: NodeAttributes, time: Timestamp, cache: CacheTimeouts): number {
  const entry = attr.validSeconds ?? cache.entrySeconds;
  const valid = attrSeconds(attr, cache);
  writeU64(buf, o, attr.ino);
  writeU64(buf, o + 8, 0);
  writeU64(buf, o + 16, wholeSeconds(entry));
  writeU64(buf, o + 24, wholeSeconds(valid));
  buf.writeUInt32LE(nanoseconds(entry), o + 32);
  buf.writeUInt32LE(nanoseconds(valid), o + 36);
  writeAttr(buf, o + 40, attr, time);
  return ENTRY_OUT_SIZE;
}

export function writeAttrOut(buf: Buffer, o: number, attr: NodeAttributes, time: Timestamp, cache: CacheTimeouts): number {
  const valid = attrSeconds(attr, cache);
  writeU64(buf, o, wholeSeconds(valid));
  buf.writeUInt32LE(nanoseconds(valid), o + 8);
  buf.writeUInt32LE(0, o + 12);
  writeAttr(buf, o + 16, attr, time);
  return ATTR_OUT_SIZE;
}

/** fuse_dirent (name padded to 8 bytes); returns bytes used, or 0 if it does not fit. */
export function writeDirent(buf: Buffer, o: number, limit: number, ino: number, nextOffset: number, type: number, name: string): number {
  const nameLength = Buffer.byteLength(name);
  const size = direntSize(nameLength);
  if (o + size > limit) return 0;
  writeU64(buf, o, ino);
  writeU64(buf, o + 8, nextOffset);
  buf.writeUInt32LE(nameLength, o + 16);
  buf.writeUInt32LE(type, o + 20);
  buf.write(name, o + DIRENT_HEADER_SIZE);
  buf.fill(0, o + DIRENT_HEADER_SIZE + nameLength, o + size);
  return size;
}

export function direntSize(nameLength: number): number {
  return (DIRENT_HEADER_SIZE + nameLength + 7) & ~7;
}

export function writeOutHeader(buf: Buffer, length: number, error: number, request: Buffer): void {
  buf.writeUInt32LE(length, 0);
  buf.writeInt32LE(error === 0 ? 0 : -error, 4);
  // The unique id is echoed byte for byte: no BigInt on the hot path.
  request.copy(buf, 8, 8, 16);
}

export { OUT_HEADER_SIZE };
