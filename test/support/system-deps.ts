// Run by `npm test` before ava: make sure the Debian packages the tests use are there.
// One line of output per part; a loud non-zero exit when impossible.
//
// Every extra suite is taken from the machine's own Debian mirror (its apt sources name it);
// nothing here names a package registry's host.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { debianMirror, osCodename, readAptSources, sourcesStanza, type DebianMirror } from "./apt-sources.js";
import { SID_APT_DIR, SID_CONTAINERD_PREFIX, SID_CONTAINERD_VERSION_FILE } from "./containerd-builds.js";

export const REQUIRED_PACKAGES = ["podman", "runc", "fuse3", "busybox-static", "lxcfs", "util-linux", "gcc", "procps"];

// containerd 1.7 (NRI 0.6) and the CRI api.proto the tests drive it with: Debian trixie's.
// On Debian 12 trixie is added, pinned low so nothing else is taken from it.
export const CONTAINERD_1_7_SUITE = "trixie";
export const CONTAINERD_1_7_PACKAGES = ["containerd", "golang-github-kubernetes-cri-api-dev", "golang-github-gogo-protobuf-dev"];
export const TRIXIE_SOURCES = "/etc/apt/sources.list.d/procview-trixie.sources";
export const TRIXIE_PIN = "/etc/apt/preferences.d/procview-trixie";
const TRIXIE_PIN_TEXT = `# procview tests: containerd 1.7 from trixie, nothing else unless asked for.
Package: *
Pin: release n=trixie
Pin-Priority: 100
`;
const isContainerd17 = (v: string | undefined): boolean => v !== undefined && /^1\.7\./.test(v);

const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };

/** Write `text` to `file` unless it already says exactly that; true when written. */
function ensureFile(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, "utf8") === text) return false;
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return true;
}

async function packageVersion(pkg: string): Promise<string | undefined> {
  const r = await execa("dpkg-query", ["-W", "-f=${Status} ${Version}", pkg], { reject: false });
  const m = /^\S+ \S+ installed (\S+)$/.exec(String(r.stdout).trim());
  return r.exitCode === 0 && m ? m[1] : undefined;
}

async function aptGet(args: string[], cwd?: string): Promise<void> {
  const r = await execa("apt-get", args, { env, cwd, reject: false, all: true });
  if (r.exitCode !== 0)
    throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.exitCode}): ${String(r.all).trim().split("\n").slice(-3).join(" | ")}`);
}

async function missingOf(pkgs: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const pkg of pkgs) if (!(await packageVersion(pkg))) missing.push(pkg);
  return missing;
}

async function ensureRequired(): Promise<string> {
  const missing = await missingOf(REQUIRED_PACKAGES);
  if (missing.length === 0) return `all present (${REQUIRED_PACKAGES.join(" ")})`;
  await aptGet(["update"]);
  await aptGet(["install", "-y", "--no-install-recommends", ...missing]);
  const still = await missingOf(missing);
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(" ")}`);
  return `installed ${missing.join(" ")}`;
}

/** containerd 1.7: the system's on trixie, trixie's (pinned) on bookworm, which has 1.6 without NRI. */
async function ensureContainerd17(codename: string, mirror: DebianMirror): Promise<string> {
  const missing = await missingOf(CONTAINERD_1_7_PACKAGES);
  const have = await packageVersion("containerd");
  if (missing.length === 0 && isContainerd17(have)) return `containerd ${have} and the CRI api.proto present`;
  const extraSuite = codename !== CONTAINERD_1_7_SUITE;
  if (extraSuite) {
    // The pin first: with the source and no pin, trixie's newer versions would win everywhere.
    ensureFile(TRIXIE_PIN, TRIXIE_PIN_TEXT);
    ensureFile(TRIXIE_SOURCES, sourcesStanza(mirror, CONTAINERD_1_7_SUITE));
  }
  await aptGet(["update"]);
  const targets = extraSuite ? CONTAINERD_1_7_PACKAGES.map((p) => `${p}/${CONTAINERD_1_7_SUITE}`) : CONTAINERD_1_7_PACKAGES;
  await aptGet(["install", "-y", "--no-install-recommends", ...targets]);
  const now = await packageVersion("containerd");
  if (!isContainerd17(now)) throw new Error(`containerd 1.7 did not install from ${CONTAINERD_1_7_SUITE} (have ${now ?? "none"})`);
  return `installed from ${CONTAINERD_1_7_SUITE}: containerd ${now}, ${CONTAINERD_1_7_PACKAGES.slice(1).join(" ")}`;
}

/** apt options that make apt-get use SID_APT_DIR only: its own source list, lists, cache and no pins. */
function privateApt(): string[] {
  const d = (...p: string[]): string => path.join(SID_APT_DIR, ...p);
  return [
    ["Dir::Etc::SourceList", "/dev/null"],
    ["Dir::Etc::SourceParts", d("sources.list.d")],
    ["Dir::Etc::PreferencesParts", d("preferences.d")],
    ["Dir::Etc::Preferences", "/dev/null"],
    ["Dir::State::Lists", d("lists")],
    ["Dir::Cache", d("cache")],
    // Downloads land in a root-owned directory.
    ["APT::Sandbox::User", "root"],
  ].flatMap(([k, v]) => ["-o", `${k}=${v}`]);
}

/**
 * Debian sid's containerd 2.x, downloaded with apt pointed at a sid source list of its own and
 * unpacked into SID_CONTAINERD_PREFIX. Nothing is installed: the system's packages stay as they are.
 * Its .deb needs only libc >= 2.34 and runc, both there on Debian 12 and 13.
 */
async function ensureSidContainerd(mirror: DebianMirror): Promise<string> {
  if (existsSync(SID_CONTAINERD_VERSION_FILE))
    return `containerd ${readFileSync(SID_CONTAINERD_VERSION_FILE, "utf8").trim()} (sid) present in ${SID_CONTAINERD_PREFIX}`;
  const started = Date.now();
  for (const sub of ["sources.list.d", "preferences.d", "lists/partial", "cache/archives/partial", "debs"])
    mkdirSync(path.join(SID_APT_DIR, sub), { recursive: true });
  ensureFile(path.join(SID_APT_DIR, "sources.list.d", "sid.sources"), sourcesStanza(mirror, "sid"));
  const apt = privateApt();
  await aptGet([...apt, "update"]);
  const debs = path.join(SID_APT_DIR, "debs");
  rmSync(debs, { recursive: true, force: true });
  mkdirSync(debs);
  await aptGet([...apt, "download", "containerd"], debs);
  const file = readdirSync(debs).find((f) => /^containerd_.*\.deb$/.test(f));
  if (!file) throw new Error(`apt-get download containerd left no containerd_*.deb in ${debs}`);
  const deb = path.join(debs, file);
  const version = String((await execa("dpkg-deb", ["-f", deb, "Version"])).stdout).trim();
  if (!/^2\./.test(version)) throw new Error(`sid's containerd is ${version}, not 2.x`);
  const unpacking = `${SID_CONTAINERD_PREFIX}.unpacking`;
  rmSync(unpacking, { recursive: true, force: true });
  await execa("dpkg-deb", ["-x", deb, unpacking]);
  const reported = await execa(path.join(unpacking, "usr", "bin", "containerd"), ["--version"], { reject: false });
  if (reported.exitCode !== 0) throw new Error(`sid's containerd ${version} does not run here: ${String(reported.stderr).trim()}`);
  rmSync(SID_CONTAINERD_PREFIX, { recursive: true, force: true });
  renameSync(unpacking, SID_CONTAINERD_PREFIX);
  writeFileSync(SID_CONTAINERD_VERSION_FILE, `${version}\n`);
  const size = (await execa("du", ["-sm", SID_CONTAINERD_PREFIX])).stdout.split("\t")[0];
  rmSync(debs, { recursive: true, force: true });
  return `unpacked sid's containerd ${version} into ${SID_CONTAINERD_PREFIX} (${size} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

async function main(): Promise<void> {
  const codename = osCodename();
  const ours = (f: string): boolean => f === TRIXIE_SOURCES;
  const mirror = debianMirror(readAptSources("/etc/apt", ours), codename);
  process.stdout.write(`system-deps: Debian ${codename}, mirror ${mirror.uri}\n`);
  process.stdout.write(`system-deps: ${await ensureRequired()}\n`);
  process.stdout.write(`system-deps: ${await ensureContainerd17(codename, mirror)}\n`);
  process.stdout.write(`system-deps: ${await ensureSidContainerd(mirror)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`system-deps: FAILED: ${(err as Error).message}\n`);
  process.exit(1);
});
