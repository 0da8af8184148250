// The page sizes the kernel counts /proc/vmstat in: the base page (from the auxiliary vector the
// kernel hands every process, AT_PAGESZ) and the transparent huge page (PMD) size.
import { readFileSync } from "node:fs";
import { endianness } from "node:os";
import { join } from "node:path";

export interface PageSizes {
  pageBytes: number;
  hugePageBytes: number;
}

const AT_PAGESZ = 6n;
const FALLBACK_PAGE = 4096;

function readOr<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** AT_PAGESZ from <procRoot>/self/auxv (pairs of 64-bit words); 4096 where it cannot be read (fixture trees). */
export function basePageBytes(procRoot: string): number {
  return readOr(() => {
    const auxv = readFileSync(join(procRoot, "self/auxv"));
    const word = (at: number) => (endianness() === "LE" ? auxv.readBigUInt64LE(at) : auxv.readBigUInt64BE(at));
    for (let at = 0; at + 16 <= auxv.length; at += 16) if (word(at) === AT_PAGESZ) return Number(word(at + 8));
    return FALLBACK_PAGE;
  }, FALLBACK_PAGE);
}

/**
 * The PMD huge page: the kernel says it in hpage_pmd_size when transparent huge pages are built
 * in; otherwise one page table of entries of 8 bytes, each mapping a page (2 MiB on 4 KiB pages).
 */
export function pageSizes(procRoot: string, sysRoot: string): PageSizes {
  const pageBytes = basePageBytes(procRoot);
  const computed = (pageBytes / 8) * pageBytes;
  const said = readOr(() => Number(readFileSync(join(sysRoot, "kernel/mm/transparent_hugepage/hpage_pmd_size"), "utf8").trim()), 0);
  return { pageBytes, hugePageBytes: Number.isInteger(said) && said > 0 ? said : computed };
}
