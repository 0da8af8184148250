// Runs one tier of the tests with ava: `node dist/test/support/tier.js unit|live [ava flags]`.
//
// - unit: every test/**/*.test.ts but the live ones. They need no root, no mount and no container
//   runtime, and to keep it so they always run unprivileged: started as root, this copies the
//   package to a temporary directory owned by nobody and runs ava there as nobody. A test that
//   needs root fails in this tier; name it *.live.test.ts.
// - live: test/**/*.live.test.ts, as whoever runs it (the test bed: root).
//
// Files are listed from the sources, so compiled tests left in dist/ by a rename are never run.
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { PACKAGE_ROOT } from "../../core/paths.js";
import { Argument, Command } from "commander";
import { runProgram } from "../../cli/run.js";

const TIERS = ["unit", "live"] as const;
type Tier = (typeof TIERS)[number];

const LIVE = /\.live\.test\.ts$/;
const UNPRIVILEGED_USER = "nobody";

/** Test sources below `dir` (package-relative, e.g. "test/views/meminfo.test.ts"). */
function testSources(root = PACKAGE_ROOT, dir = "test"): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...testSources(root, path));
    else if (entry.name.endsWith(".test.ts")) found.push(path);
  }
  return found.sort();
}

function tierOf(source: string): Tier {
  return LIVE.test(source) ? "live" : "unit";
}

/** The compiled files ava runs for a tier, relative to the package root. */
function tierFiles(tier: Tier, root = PACKAGE_ROOT): string[] {
  return testSources(root)
    .filter((source) => tierOf(source) === tier)
    .map((source) => join("dist", source.replace(/\.ts$/, ".js")));
}

async function idOf(flag: "-u" | "-g", user: string): Promise<number> {
  const r = await execa("id", [flag, user], { reject: false });
  if (r.exitCode !== 0) throw new Error(`the unit tier runs as ${user} when started as root, and this machine has no user ${user}`);
  return Number(r.stdout);
}

function ava(cwd: string, args: string[], as?: { uid: number; gid: number }) {
  return execa(process.execPath, [join(cwd, "node_modules/ava/entrypoints/cli.mjs"), ...args], {
    cwd,
    stdio: "inherit",
    reject: false,
    ...(as && { uid: as.uid, gid: as.gid, env: { HOME: cwd } }),
  });
}

/** The unit tier as nobody, on a copy of the package nobody owns (the checkout may be closed to it). */
async function runUnprivileged(args: string[]): Promise<number> {
  const as = { uid: await idOf("-u", UNPRIVILEGED_USER), gid: await idOf("-g", UNPRIVILEGED_USER) };
  const copy = await mkdtemp(join(tmpdir(), "procview-unit-"));
  const removeCopy = () => rm(copy, { recursive: true, force: true });
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => void removeCopy().finally(() => process.exit(128 + (signal === "SIGINT" ? 2 : 15))));
  try {
    const entries = readdirSync(PACKAGE_ROOT).filter((name) => name !== ".git");
    await execa("cp", ["-a", "--", ...entries.map((name) => join(PACKAGE_ROOT, name)), copy]);
    await execa("chown", ["-R", `${as.uid}:${as.gid}`, copy]);
    process.stdout.write(`unit tier: as ${UNPRIVILEGED_USER} in ${copy}\n`);
    return (await ava(copy, args, as)).exitCode ?? 1;
  } finally {
    await removeCopy();
  }
}

const program = new Command("tier")
  .description("run one tier of the tests with ava")
  .addArgument(new Argument("<tier>", "unit: no root, no mount, no container runtime; live: the rest").choices(TIERS))
  .argument("[ava...]", "more ava flags (after --), e.g. -- --match '*meminfo*'")
  .action(async (tier: Tier, more: string[]) => {
    const args = [...tierFiles(tier), ...more];
    const unprivileged = tier === "unit" && process.getuid?.() === 0;
    process.exitCode = unprivileged ? await runUnprivileged(args) : ((await ava(PACKAGE_ROOT, args)).exitCode ?? 1);
  });
await runProgram(program);
