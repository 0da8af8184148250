// The FUSE protocol against the real kernel: a real mount, real syscalls from real processes.
import test from "ava";
import {
  closeSync,
  openSync,
  readSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
  mkdirSync,
  unlinkSync,
  chmodSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { registerContainer, startProcview, type RunningProcview } from "../../testbed/procview.js";
import { waitFor } from "../../testbed/wait.js";
import { readStatus } from "../../fuse/keeper/status.js";
import { DEFAULT_RUNTIME_DIR, statusPath } from "../../core/paths.js";

let service: RunningProcview;

test.before(async () => {
  service = await startProcview();
});
test.after.always(async () => {
  await service?.stop();
});

const VIEW_FILES = [
  "proc/meminfo",
  "proc/cpuinfo",
  "proc/stat",
  "proc/uptime",
  "proc/loadavg",
  "proc/diskstats",
  "proc/swaps",
  "sys/devices/system/cpu/online",
  "sys/devices/system/cpu/possible",
  "sys/devices/system/cpu/present",
  "sys/devices/system/cpu/offline",
  "proc/pressure/cpu",
  "proc/pressure/memory",
  "proc/pressure/io",
  "proc/vmstat",
  "proc/slabinfo",
];

test("ls -l lists the LXCFS layout with read-only modes", async (t) => {
  const { stdout } = await execa("ls", ["-l", join(service.mountPoint, "proc")]);
  for (const name of ["cpuinfo", "diskstats", "loadavg", "meminfo", "stat", "swaps", "uptime", "vmstat"]) {
    t.regex(stdout, new RegExp(`^-r--r--r-- 1 root root 0 .* ${name}$`, "m"));
  }
  t.regex(stdout, /^-r-------- 1 root root 0 .* slabinfo$/m, "root only, as the kernel's");
  t.regex(stdout, /^dr-xr-xr-x 2 root root 0 .* pressure$/m);
  t.deepEqual(readdirSync(join(service.mountPoint, "proc/pressure")).sort(), ["cpu", "io", "memory"]);
  t.deepEqual(readdirSync(join(service.mountPoint, "sys/devices/system/cpu")).sort(), ["offline", "online", "possible", "present"]);
});

test("find walks the whole tree and stat reports regular files and directories", async (t) => {
  // The top-level tree: containers/ lists what other tests register meanwhile.
  const containers = join(service.mountPoint, "containers");
  const { stdout } = await execa("find", [service.mountPoint, "-path", containers, "-prune", "-o", "-type", "f", "-print"]);
  const found = stdout
    .split("\n")
    .map((p) => p.slice(service.mountPoint.length + 1))
    .sort();
  t.deepEqual(found, [...VIEW_FILES].sort());
  const file = statSync(join(service.mountPoint, "proc/meminfo"));
  t.true(file.isFile());
  t.is(file.mode & 0o777, 0o444);
  t.true(statSync(join(service.mountPoint, "sys/devices")).isDirectory());
  const { stdout: statOut } = await execa("stat", ["-c", "%F %a %U", join(service.mountPoint, "proc/stat")]);
  t.is(statOut, "regular empty file 444 root");
});

test("every file reads to the end with cat even though its size is 0", async (t) => {
  for (const file of VIEW_FILES) {
    const { stdout } = await execa("cat", [join(service.mountPoint, file)], { stripFinalNewline: false });
    // offline is a lone newline when all CPUs are online; diskstats is empty for a cgroup without I/O.
    if (file.endsWith("offline")) t.regex(stdout, /^(\d+(-\d+)?(,\d+(-\d+)?)*)?\n$/, file);
    else if (file.endsWith("diskstats")) t.regex(stdout, /^(\s*\d+\s+\d+ \S+( \d+){11,}\n)*$/, file);
    else t.regex(stdout, /\S[^]*\n$/, file);
  }
  const { stdout: meminfo } = await execa("cat", [join(service.mountPoint, "proc/meminfo")]);
  t.regex(meminfo, /^MemTotal:\s+\d+ kB$/m);
  t.regex(meminfo, /^HugePages_Total:\s+\d+$/m, "lines after the first page of text arrive too");
});

test("chunked reads at odd offsets reassemble to the same text as one read", (t) => {
  for (const file of ["proc/cpuinfo", "proc/meminfo", "proc/stat", "proc/uptime"]) {
    const fd = openSync(join(service.mountPoint, file), "r");
    try {
      // One pass in odd chunks from offset 0: the text OPEN rendered.
      const parts: Buffer[] = [];
      let offset = 0;
      for (const size of [7, 1, 13, 4093, 3, 4099, 1000]) {
        const chunk = Buffer.alloc(size);
        const n = readSync(fd, chunk, 0, size, offset);
        parts.push(chunk.subarray(0, n));
        offset += n;
      }
      for (;;) {
        const chunk = Buffer.alloc(11);
        const n = readSync(fd, chunk, 0, 11, offset);
        if (n === 0) break;
        parts.push(chunk.subarray(0, n));
        offset += n;
      }
      const chunked = Buffer.concat(parts).toString();
      t.true(chunked.length > 0);
      // The same handle read in one go from offset 1 (offset 0 would ask for fresh numbers).
      const whole = Buffer.alloc(256 * 1024);
      const wholeLength = readSync(fd, whole, 0, whole.length, 1);
      t.is(chunked.slice(1), whole.subarray(0, wholeLength).toString(), file);
      // A read past the end is empty, not an error.
      t.is(readSync(fd, Buffer.alloc(10), 0, 10, chunked.length + 100), 0);
    } finally {
      closeSync(fd);
    }
  }
  // cpuinfo does not change: a fresh open reads the very same text.
  const fd = openSync(join(service.mountPoint, "proc/cpuinfo"), "r");
  const again = Buffer.alloc(256 * 1024);
  const n = readSync(fd, again, 0, again.length, 0);
  closeSync(fd);
  t.is(again.subarray(0, n).toString(), readFileSync(join(service.mountPoint, "proc/cpuinfo"), "utf8"));
});

function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as NodeJS.ErrnoException).code;
  }
  return undefined;
}

test("write, create, unlink, chmod and mkdir are refused", (t) => {
  const refused = ["EROFS", "EACCES"];
  const meminfo = join(service.mountPoint, "proc/meminfo");
  t.true(refused.includes(errnoOf(() => writeFileSync(meminfo, "x"))!), "write");
  t.true(refused.includes(errnoOf(() => writeFileSync(join(service.mountPoint, "proc/new"), "x"))!), "create");
  t.true(refused.includes(errnoOf(() => unlinkSync(meminfo))!), "unlink");
  t.true(refused.includes(errnoOf(() => chmodSync(meminfo, 0o777))!), "chmod");
  t.true(refused.includes(errnoOf(() => mkdirSync(join(service.mountPoint, "d")))!), "mkdir");
  t.true(refused.includes(errnoOf(() => openSync(meminfo, "r+"))!), "open for writing");
  // The file is unchanged and still served.
  t.regex(readFileSync(meminfo, "utf8"), /^MemTotal:/);
});

test("slabinfo opens for root only; a pressure file opened for writing (a PSI trigger) is refused with EROFS", async (t) => {
  const slabinfo = join(service.mountPoint, "proc/slabinfo");
  t.regex(readFileSync(slabinfo, "utf8"), /^slabinfo - version: /);
  // Let others reach the mountpoint (its temporary parent is 0700), as /var/lib/procview is.
  chmodSync(dirname(service.mountPoint), 0o755);
  const nobody = await execa("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", slabinfo], { reject: false });
  t.not(nobody.exitCode, 0);
  t.regex(nobody.stderr, /Permission denied/);
  const vmstat = await execa("setpriv", [
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "cat",
    join(service.mountPoint, "proc/vmstat"),
  ]);
  t.regex(vmstat.stdout, /^pgfault \d+$/m, "other files stay readable by anyone");
  const memory = join(service.mountPoint, "proc/pressure/memory");
  t.is(
    errnoOf(() => openSync(memory, "r+")),
    "EROFS",
  );
  t.is(
    errnoOf(() => writeFileSync(memory, "some 150000 1000000")),
    "EROFS",
  );
  t.regex(readFileSync(memory, "utf8"), /^some avg10=\d+\.\d\d avg60=\d+\.\d\d avg300=\d+\.\d\d total=\d+\n/);
});

test("an unknown path is ENOENT", (t) => {
  t.is(
    errnoOf(() => readFileSync(join(service.mountPoint, "proc/nothing"))),
    "ENOENT",
  );
  t.is(
    errnoOf(() => statSync(join(service.mountPoint, "nothing/at/all"))),
    "ENOENT",
  );
  t.is(
    errnoOf(() => readFileSync(join(service.mountPoint, "proc/meminfo/below"))),
    "ENOTDIR",
  );
});

test("the serving process survives readers killed mid-read", async (t) => {
  const file = join(service.mountPoint, "proc/cpuinfo");
  const servingPid = () => readStatus(statusPath(service.mountPoint, DEFAULT_RUNTIME_DIR))?.servingPid;
  const before = servingPid();
  t.truthy(before);
  // Readers that loop over the file, each saying so after every read, and get SIGKILLed at random
  // points of open/read/close once every one of them is well into its loop.
  const reads = new Array<number>(8).fill(0);
  const readers = reads.map((_, i) => {
    const reader = execa("/bin/sh", ["-c", 'while :; do cat "$1" > /dev/null; echo; done', "sh", file], { reject: false, buffer: false });
    reader.stdout.on("data", (chunk: Buffer) => (reads[i]! += chunk.filter((byte) => byte === 10).length));
    return reader;
  });
  await waitFor("every reader to have read 50 times", () => reads.every((n) => n >= 50));
  for (const reader of readers) reader.kill("SIGKILL");
  await Promise.all(readers);
  const { stdout } = await execa("cat", [file]);
  t.regex(stdout, /^processor\s*: 0$/m);
  t.is(servingPid(), before, "the same serving process answers: it never went down");
});

test("containers/<id>/ repeats the layout with inodes of its own per registered container, on a mount of its own", (t) => {
  for (const id of ["4f1c0a9e2b7d", "podman-test_1.2"]) registerContainer(service.mountPoint, id, { pid: process.pid });
  const ino = (relative: string) => statSync(join(service.mountPoint, relative)).ino;
  const shared = ino("proc/meminfo");
  const a = ino("containers/4f1c0a9e2b7d/proc/meminfo");
  const b = ino("containers/podman-test_1.2/proc/meminfo");
  t.not(a, shared);
  t.not(a, b);
  t.is(ino("containers/4f1c0a9e2b7d/proc/meminfo"), a, "stable for an id");
  t.not(statSync(join(service.mountPoint, "containers")).dev, statSync(service.mountPoint).dev, "a FUSE connection of its own");
  t.deepEqual(readdirSync(join(service.mountPoint, "containers/4f1c0a9e2b7d")).sort(), ["proc", "sys"]);
  const meminfo = readFileSync(join(service.mountPoint, "containers/4f1c0a9e2b7d/proc/meminfo"), "utf8");
  t.regex(meminfo, /^MemTotal:/);
  t.is(statSync(join(service.mountPoint, "containers/4f1c0a9e2b7d/proc/meminfo")).size, meminfo.length, "its exact size");
  t.deepEqual(readdirSync(join(service.mountPoint, "containers")), ["4f1c0a9e2b7d", "podman-test_1.2"], "registered ids are listed");
  t.is(
    errnoOf(() => statSync(join(service.mountPoint, "containers/not-registered"))),
    "ENOENT",
    "an id nobody registered",
  );
  for (const bad of ["-leading-dash", "a".repeat(129), "sp ace", "..."]) {
    t.is(
      errnoOf(() => statSync(join(service.mountPoint, "containers", bad))),
      "ENOENT",
      bad,
    );
  }
  t.is(
    errnoOf(() => statSync(join(service.mountPoint, "containers/abc/containers"))),
    "ENOENT",
    "no nesting",
  );
});
