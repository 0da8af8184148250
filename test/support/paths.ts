// Where the repository is, from compiled tests (dist/test/support/*.js) and sources alike.
import { fileURLToPath } from "node:url";
import { dirname, join, basename } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
/** dist/test/support → repo root; test/support (ts run directly) → repo root. */
export const REPO_ROOT = basename(join(here, "../..")) === "dist" ? join(here, "../../..") : join(here, "../..");
