// Unexpected failures while reading a container's numbers are logged once per file (or per
// container when no file is named): a broken cgroup read on every open must not flood the log,
// and the reader is shown the nearest ancestor's numbers meanwhile, so nothing else needs saying.
import { CgroupReadError } from "../cgroup/read.js";

export interface Problem {
  /** What makes two reports the same problem. */
  key: string;
  line: string;
}

/** `what` failed for the cgroup(s) `where`: one log line, keyed by the failing file when known. */
export function describeProblem(what: string, where: string, err: unknown): Problem {
  if (err instanceof CgroupReadError) {
    // Pids and thread ids change with every reader; the file's kind and the error do not.
    const site = err.path.replace(/\/\d+(?=\/|$)/g, "/<pid>");
    const key = site === err.path ? err.path : `${site} ${err.code ?? err.message}`;
    return { key, line: `${what} for ${where}: ${err.message}` };
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { key: `${what} ${where}`, line: `${what} for ${where} failed: ${detail}` };
}

/** Logs each problem the first time its key is seen (without a log: only tells). Bounded: forgets everything when full. */
export class OnceLog {
  private readonly seen = new Set<string>();

  constructor(
    private readonly log: (line: string) => void = () => {},
    private readonly limit = 4096,
  ) {}

  /** true when this is the first report of the problem (and it was logged). */
  report(problem: Problem): boolean {
    if (this.seen.has(problem.key)) return false;
    if (this.seen.size >= this.limit) this.seen.clear();
    this.seen.add(problem.key);
    this.log(problem.line);
    return true;
  }
}
