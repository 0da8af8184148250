// Bundle hook/main.ts into dist/procview-hook.mjs. The hook runs for every
// container start, so it ships as one file: no module resolution across
// node_modules at startup.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Compiled to dist/install/bundle-hook.js; the repository root is two levels up.
const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
export const HOOK_BUNDLE = path.join(root, 'dist', 'procview-hook.mjs');

async function main(): Promise<void> {
  const result = await build({
    entryPoints: [path.join(root, 'hook', 'main.ts')],
    outfile: HOOK_BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    // Some CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __procviewCreateRequire } from 'node:module'; const require = __procviewCreateRequire(import.meta.url);" },
    logLevel: 'warning',
    metafile: true,
  });
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stdout.write(`bundled ${path.relative(root, HOOK_BUNDLE)} (${Math.round(bytes / 1024)} KiB)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bundle-hook: ${(err as Error).message}\n`);
  process.exit(1);
});
