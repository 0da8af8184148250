// Reads a small kernel file (procfs, cgroupfs) into text with one reused buffer: open, read
// until EOF, close. readFileSync also fstat()s the file to size a fresh buffer, which buys
// nothing here (these files report a size of 0 or 4096 whatever they hold) and costs a syscall
// and an allocation per file on the request path. Each thread has its own module instance, so
// the buffer is never shared.
import { closeSync, openSync, readSync } from "node:fs";

let buffer = Buffer.allocUnsafe(64 * 1024);

export function readSmallFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.toString("utf8", 0, length);
  } finally {
    closeSync(fd);
  }
}
