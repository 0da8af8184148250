// Bundles the OCI hook's entry into dist/procview-hook.mjs. The hook runs for every container
// start, so it ships as one file: no module resolution across node_modules at startup.
import { build } from "esbuild";
import path from "node:path";
import { HOOK_BUNDLE, HOOK_BUNDLE_SOURCE, PACKAGE_ROOT } from "../core/paths.js";
import { exitWithError } from "../core/errors.js";

async function main(): Promise<void> {
  const result = await build({
    entryPoints: [HOOK_BUNDLE_SOURCE],
    outfile: HOOK_BUNDLE,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    // Some CommonJS dependencies call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __procviewCreateRequire } from 'node:module'; const require = __procviewCreateRequire(import.meta.url);",
    },
    logLevel: "warning",
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stdout.write(`bundled ${path.relative(PACKAGE_ROOT, HOOK_BUNDLE)} (${Math.round(bytes / 1024)} KiB)\n`);
}

main().catch((err: unknown) => exitWithError("bundle-hook", err));
