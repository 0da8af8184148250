// Loaded with `node --import` into a procview started by a test (the keeper passes its node
// options on to the serving processes, and worker threads run it too). In a serving process it
// fails files as the control file named by PROCVIEW_TEST_FAULTS says, re-read whenever it
// changes; elsewhere (the keeper, the CLI) it does nothing. The control file (JSON):
//   { "errno": "EIO", "pattern": "^/proc/\\d+/cgroup$", "operations": ["open", "read"] }  fail those
//   { "crash": "main", "pid": N }  throw an uncaught error on serving process N's main thread
//   { "crash": "threads" }  serving threads fail as they start
//   {}                      nothing
import { readFileSync, statSync } from "node:fs";
import { isMainThread } from "node:worker_threads";
import { installFsFaults, setFault, type Errno, type Fault, type Operation } from "./fs-faults.js";

interface Control {
  errno?: Errno;
  pattern?: string;
  operations?: Operation[];
  crash?: "main" | "threads";
  /** Only this serving process crashes (its successor must not). */
  pid?: number;
}

const controlFile = process.env.PROCVIEW_TEST_FAULTS;
// Captured before the wrapping: reading the control file must not fail itself.
const read = readFileSync;
const stat = statSync;

let seen = "";
let control: Control = {};
let fault: Fault | null = null;
function current(): Control {
  let version: string;
  try {
    const s = stat(controlFile!);
    version = `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    version = "none";
  }
  if (version !== seen) {
    seen = version;
    try {
      control = JSON.parse(read(controlFile!, "utf8")) as Control;
    } catch {
      control = {};
    }
    const { errno, pattern, operations } = control;
    const regex = pattern === undefined ? null : new RegExp(pattern);
    fault =
      errno === undefined || regex === null
        ? null
        : { errno, matches: (path, operation) => regex.test(path) && (operations?.includes(operation) ?? true) };
  }
  return control;
}

// A serving process's main thread is cli/serving.js; its worker threads (whose argv does not say
// so) inherit the environment it marks here before it starts them.
const SERVING = "PROCVIEW_TEST_FAULTS_SERVING";
if (isMainThread && process.argv[1]?.endsWith("/cli/serving.js")) process.env[SERVING] = "1";
if (controlFile !== undefined && process.env[SERVING] === "1") {
  if (!isMainThread && current().crash === "threads") throw new Error("injected: this serving thread cannot start");
  installFsFaults();
  setFault(() => {
    current();
    return fault;
  });
  if (isMainThread) {
    let crashed = false;
    setInterval(() => {
      const now = current();
      if (crashed || now.crash !== "main" || (now.pid !== undefined && now.pid !== process.pid)) return;
      crashed = true;
      setImmediate(() => {
        throw new Error("injected: an uncaught error on the serving process's main thread");
      });
    }, 20).unref();
  }
}
