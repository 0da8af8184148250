// `npm run image`: procview as an OCI image archive (`ctr images import` loads it), built from
// the build machine's own files and the npm registry only, no base image:
//   /opt/procview       package.json, the product's compiled output (dist/, less tests, bench,
//                       build scripts and source maps) with its native helpers, and the
//                       production node_modules (`npm ci --omit=dev`, from npm's cache when it
//                       has them, less what Node never loads: TypeScript, maps, docs);
//   /usr/bin/node       the Node runtime running this build, stripped of its symbols;
//   /usr/bin/head, env  the two programs procview runs (the health read of a mount, and the
//                       `#!/usr/bin/env node` of the command);
//   /lib…               the shared libraries those programs and the native helpers load;
//   /usr/local/bin/procview → the command, the image's entrypoint.
// Everything else a distribution image brings (a shell, a package manager, locales) procview
// never runs, so it is not there.
import { chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Command } from "commander";
import { execa } from "execa";
import { z } from "zod";
import { copyInto, copyWithLibraries, librariesOf } from "./program-files.js";
import { writeOciImage } from "./oci-image.js";
import { CLI_ENTRY, DIST_DIR, IMAGE_APP_DIR, imageArchive, imageReference, NATIVE_DIR, PACKAGE_ROOT } from "../core/paths.js";
import { tool } from "../core/tools.js";
import { exitWithError } from "../core/errors.js";

/** The product's folders of dist/ (the layers of ARCHITECTURE.md) and the hook's bundle. */
const PRODUCT = ["core", "fuse", "plan", "hook", "nri", "install", "cli", "native", "procview-hook.mjs"];
const PackageSchema = z.object({ name: z.string(), version: z.string(), description: z.string(), license: z.string() });

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

async function sizeOf(p: string): Promise<number> {
  const st = await stat(p);
  if (!st.isDirectory()) return st.size;
  let total = 0;
  for (const name of await readdir(p)) total += await sizeOf(path.join(p, name));
  return total;
}

async function productionModules(app: string): Promise<void> {
  for (const f of ["package.json", "package-lock.json"]) await copyFile(path.join(PACKAGE_ROOT, f), path.join(app, f));
  const npm = await execa(
    "npm",
    ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
    { cwd: app, reject: false, all: true },
  );
  if (npm.exitCode !== 0) throw new Error(`npm ci --omit=dev failed (exit ${npm.exitCode}): ${String(npm.all).trim()}`);
  await rm(path.join(app, "package-lock.json"));
  await prune(path.join(app, "node_modules"));
}

/** What packages ship and Node never loads: TypeScript sources and declarations, source maps,
 * documentation (licences stay). About half of the production node_modules. */
const NEVER_LOADED = /\.(ts|cts|mts|map)$|^(?!(licen[cs]e|copying|notice)).*\.(md|markdown)$/i;

async function prune(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) await prune(p);
    else if (NEVER_LOADED.test(entry.name)) await rm(p);
  }
}

async function main(output: string | undefined): Promise<void> {
  const pkg = PackageSchema.parse(JSON.parse(await readFile(path.join(PACKAGE_ROOT, "package.json"), "utf8")));
  const out = path.resolve(output ?? imageArchive(pkg.version));
  const root = await mkdtemp(path.join(tmpdir(), "procview-image-"));
  try {
    const app = path.join(root, IMAGE_APP_DIR);
    await mkdir(path.join(app, "dist"), { recursive: true });
    for (const entry of PRODUCT)
      await cp(path.join(DIST_DIR, entry), path.join(app, "dist", entry), {
        recursive: true,
        filter: (src) => !src.endsWith(".map"),
      });
    await productionModules(app);

    // The runtime: this build's node, without its symbol tables (~13 MiB of 99 on Debian's nodejs).
    const node = await copyInto(root, process.execPath, "/usr/bin/node");
    const strip = await execa("strip", ["--strip-all", node], { reject: false });
    if (strip.exitCode !== 0) throw new Error(`strip ${process.execPath} failed: ${strip.stderr || strip.message}`);
    for (const lib of await librariesOf(process.execPath)) await copyInto(root, lib);
    for (const program of [tool("head"), tool("env")]) await copyWithLibraries(program, root);
    for (const helper of await readdir(NATIVE_DIR))
      for (const lib of await librariesOf(path.join(NATIVE_DIR, helper))) await copyInto(root, lib);
    // The command: its `#!/usr/bin/env node` line runs it (npm's bin links would, elsewhere).
    const command = path.join(IMAGE_APP_DIR, path.relative(PACKAGE_ROOT, CLI_ENTRY));
    await chmod(path.join(root, command), 0o755);
    await mkdir(path.join(root, "usr/local/bin"), { recursive: true });
    await symlink(command, path.join(root, "usr/local/bin/procview"));

    const parts = {
      node: await sizeOf(node),
      node_modules: await sizeOf(path.join(app, "node_modules")),
      dist: await sizeOf(path.join(app, "dist")),
    };
    const written = await writeOciImage(
      {
        rootfs: root,
        name: imageReference(pkg.version),
        entrypoint: ["procview"],
        cmd: ["--help"],
        env: ["PATH=/usr/local/bin:/usr/bin:/bin", "NODE_ENV=production"],
        labels: {
          "org.opencontainers.image.title": pkg.name,
          "org.opencontainers.image.description": pkg.description,
          "org.opencontainers.image.version": pkg.version,
          "org.opencontainers.image.licenses": pkg.license,
        },
      },
      out,
    );
    const libraries = written.layerBytes - Object.values(parts).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `wrote ${out}: ${imageReference(pkg.version)} (${written.digest}), ${mib(written.archiveBytes)} compressed, ${mib(written.layerBytes)} unpacked: ` +
        `node ${mib(parts.node)}, node_modules ${mib(parts.node_modules)}, dist ${mib(parts.dist)}, libraries, head, env and tar headers ${mib(libraries)}\n`,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const program = new Command("build-image")
  .description("build procview's container image as an OCI image archive (ctr images import loads it)")
  .option("--output <file>", "where to write the archive (default: dist/image/procview-<version>.oci.tar)")
  .action((opts: { output?: string }) => main(opts.output));
program.parseAsync().catch((err: unknown) => exitWithError("build-image", err));
