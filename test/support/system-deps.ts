// Run by `npm test` before ava: make sure the Debian packages the tests use
// are installed. One line of output; a loud non-zero exit when impossible.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { execa } from "execa";

export const REQUIRED_PACKAGES = ["podman", "runc", "fuse3", "busybox-static", "lxcfs", "util-linux", "gcc", "procps"];

// containerd 1.7 (with NRI) and the .proto files the NRI tests check against
// come from Debian trixie, pinned low so nothing else is taken from it.
export const TRIXIE_PACKAGES = [
  "containerd",
  "golang-github-containerd-nri-dev",
  "golang-github-containerd-ttrpc-dev",
  "golang-github-kubernetes-cri-api-dev",
  "golang-github-gogo-protobuf-dev",
];
export const TRIXIE_SOURCES = "/etc/apt/sources.list.d/procview-trixie.sources";
export const TRIXIE_PIN = "/etc/apt/preferences.d/procview-trixie";
const TRIXIE_SOURCES_TEXT = `Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;
const TRIXIE_PIN_TEXT = `# procview tests: containerd 1.7 from trixie, nothing else unless asked for.
Package: *
Pin: release n=trixie
Pin-Priority: 100
`;

/** Write `text` to `file` unless it already says exactly that; true when written. */
function ensureFile(file: string, text: string): boolean {
  if (existsSync(file) && readFileSync(file, "utf8") === text) return false;
  writeFileSync(file, text);
  return true;
}

async function containerdVersion(): Promise<string | undefined> {
  const r = await execa("dpkg-query", ["-W", "-f=${Version}", "containerd"], { reject: false });
  return r.exitCode === 0 ? String(r.stdout).trim() : undefined;
}

async function isInstalled(pkg: string): Promise<boolean> {
  const r = await execa("dpkg-query", ["-W", "-f=${Status}", pkg], { reject: false });
  return r.exitCode === 0 && String(r.stdout).trim().endsWith(" installed");
}

async function aptGet(args: string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const r = await execa("apt-get", args, { env, reject: false, all: true });
  if (r.exitCode !== 0)
    throw new Error(`apt-get ${args.join(" ")} failed (exit ${r.exitCode}): ${String(r.all).trim().split("\n").slice(-3).join(" | ")}`);
}

/** containerd >= 1.7 (NRI) from trixie; bookworm's 1.6 is replaced. */
async function ensureTrixie(): Promise<string> {
  const old = await containerdVersion();
  const missing: string[] = [];
  for (const pkg of TRIXIE_PACKAGES) if (!(await isInstalled(pkg))) missing.push(pkg);
  const tooOld = old !== undefined && !/^1\.([7-9]|\d\d)\.|^[2-9]\./.test(old);
  if (missing.length === 0 && !tooOld) return `containerd ${old} and NRI/CRI protos from trixie present`;
  // The pin first: with the source and no pin, trixie's newer versions would win everywhere.
  const wrotePin = ensureFile(TRIXIE_PIN, TRIXIE_PIN_TEXT);
  const wroteSources = ensureFile(TRIXIE_SOURCES, TRIXIE_SOURCES_TEXT);
  if (wrotePin || wroteSources || missing.length) await aptGet(["update"]);
  await aptGet(["install", "-y", "--no-install-recommends", ...TRIXIE_PACKAGES.map((p) => `${p}/trixie`)]);
  const now = await containerdVersion();
  if (!now || !/^1\.([7-9]|\d\d)\.|^[2-9]\./.test(now)) throw new Error(`containerd from trixie did not install (have ${now ?? "none"})`);
  return `installed from trixie: containerd ${now}, ${TRIXIE_PACKAGES.slice(1).join(" ")}`;
}

async function main(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of REQUIRED_PACKAGES) if (!(await isInstalled(pkg))) missing.push(pkg);
  if (missing.length === 0) {
    process.stdout.write(`system-deps: all present (${REQUIRED_PACKAGES.join(" ")}); ${await ensureTrixie()}\n`);
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = await execa("apt-get", ["update"], { env, reject: false, all: true });
  if (update.exitCode !== 0)
    throw new Error(`apt-get update failed (exit ${update.exitCode}): ${String(update.all).trim().split("\n").slice(-3).join(" | ")}`);
  const install = await execa("apt-get", ["install", "-y", "--no-install-recommends", ...missing], { env, reject: false, all: true });
  if (install.exitCode !== 0)
    throw new Error(
      `apt-get install ${missing.join(" ")} failed (exit ${install.exitCode}): ${String(install.all).trim().split("\n").slice(-3).join(" | ")}`,
    );
  const still: string[] = [];
  for (const pkg of missing) if (!(await isInstalled(pkg))) still.push(pkg);
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(" ")}`);
  process.stdout.write(`system-deps: installed ${missing.join(" ")}; ${await ensureTrixie()}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`system-deps: FAILED: ${(err as Error).message}\n`);
  process.exit(1);
});
