// How procview reports a failure: one line a person can act on. Shared by every entry point.
import type { z } from "zod";

/** An error's message, or the string of whatever was thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The errno code of a Node system error ("ENOENT", …), if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const code = err.code;
  return typeof code === "string" ? code : undefined;
}

/** One line out of a zod error: its first three issues, each with where it is. */
export function describeZodError(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

/** Writes `<name>: <message>` to stderr (the stack too with PROCVIEW_DEBUG) and exits 1. */
export function exitWithError(name: string, err: unknown): never {
  process.stderr.write(`${name}: ${errorMessage(err)}\n`);
  if (process.env.PROCVIEW_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exit(1);
}
