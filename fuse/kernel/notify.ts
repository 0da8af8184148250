// Messages procview sends the kernel unasked on a FUSE connection (an out header with unique 0
// and the notification's code in the error field): invalidate an inode's attributes and cached
// pages, store bytes in its page cache, and have the kernel queue again the requests a dead
// serving process took. Each is one write(2); the kernel acts on it before the write returns.
import { writeSync } from "node:fs";
import { writeU64 } from "./encode.js";
import { NOTIFY_INVAL_INODE_OUT_SIZE, NOTIFY_STORE_OUT_SIZE, NotifyCode, OUT_HEADER_SIZE } from "./protocol.js";

function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}

const EMPTY = Buffer.alloc(0);

/** What became of a notification: done, or the kernel holds no inode of that number (ENOENT). */
export type NotifyResult = "done" | "absent";

export class Notifier {
  private readonly buffer = Buffer.alloc(OUT_HEADER_SIZE + NOTIFY_STORE_OUT_SIZE + 64);

  constructor(private readonly fd: number) {}

  private header(length: number, code: number): void {
    this.buffer.writeUInt32LE(length, 0);
    this.buffer.writeInt32LE(code, 4);
    writeU64(this.buffer, 8, 0);
  }

  private send(length: number): NotifyResult {
    try {
      writeSync(this.fd, this.buffer, 0, length);
      return "done";
    } catch (err) {
      if (errorCode(err) === "ENOENT") return "absent";
      throw err;
    }
  }

  /**
   * FUSE_NOTIFY_INVAL_INODE: the inode's attributes are stale from now on (the next stat, or
   * read past the size the kernel holds, asks again) and requests already under way may not
   * change them any more (its attribute version moves on); with `offset` ≥ 0 its cached pages
   * from there (`length` bytes, 0: to the end) are dropped, waiting for any being read.
   */
  invalidate(nodeid: number, offset: number, length: number): NotifyResult {
    const size = OUT_HEADER_SIZE + NOTIFY_INVAL_INODE_OUT_SIZE;
    this.header(size, NotifyCode.INVAL_INODE);
    writeU64(this.buffer, OUT_HEADER_SIZE, nodeid);
    if (offset < 0) {
      this.buffer.writeInt32LE(-1, OUT_HEADER_SIZE + 8);
      this.buffer.writeInt32LE(-1, OUT_HEADER_SIZE + 12);
    } else {
      writeU64(this.buffer, OUT_HEADER_SIZE + 8, offset);
    }
    writeU64(this.buffer, OUT_HEADER_SIZE + 16, length);
    return this.send(size);
  }

  /**
   * FUSE_NOTIFY_STORE of a few bytes at `offset`: they go into the page cache, and the inode's
   * size is raised to their end when it is smaller (never lowered).
   */
  store(nodeid: number, offset: number, bytes: Buffer): NotifyResult {
    if (bytes.length > 64) throw new RangeError("a stored piece is at most 64 bytes");
    const size = OUT_HEADER_SIZE + NOTIFY_STORE_OUT_SIZE + bytes.length;
    this.header(size, NotifyCode.STORE);
    writeU64(this.buffer, OUT_HEADER_SIZE, nodeid);
    writeU64(this.buffer, OUT_HEADER_SIZE + 8, offset);
    this.buffer.writeUInt32LE(bytes.length, OUT_HEADER_SIZE + 16);
    this.buffer.writeUInt32LE(0, OUT_HEADER_SIZE + 20);
    bytes.copy(this.buffer, OUT_HEADER_SIZE + NOTIFY_STORE_OUT_SIZE);
    return this.send(size);
  }

  /**
   * Whether the kernel holds an inode of that number, changing nothing: a FUSE_NOTIFY_STORE of no
   * bytes at offset 0 stores nothing and raises no size. Never an invalidation for this: that
   * moves the inode's attribute version on, and the kernel discards the attributes of every
   * answer already under way, the one being composed included.
   */
  holds(nodeid: number): boolean {
    return this.store(nodeid, 0, EMPTY) === "done";
  }

  /** FUSE_NOTIFY_RESEND (kernel 6.9+): every request read from this connection and not answered
   * goes back to the queue, for whoever reads next. */
  resend(): void {
    this.header(OUT_HEADER_SIZE, NotifyCode.RESEND);
    writeSync(this.fd, this.buffer, 0, OUT_HEADER_SIZE);
  }
}

/** Asks the kernel to queue again every request read from this connection and not answered:
 * what a serving process that died held is then served by whoever reads next. */
export function requestResend(fd: number): void {
  new Notifier(fd).resend();
}
