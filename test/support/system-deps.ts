// Run by `npm test` before ava: make sure the Debian packages the tests use
// are installed. One line of output; a loud non-zero exit when impossible.
import { execa } from 'execa';

export const REQUIRED_PACKAGES = ['podman', 'runc', 'fuse3', 'busybox-static', 'lxcfs', 'util-linux', 'gcc'];

async function isInstalled(pkg: string): Promise<boolean> {
  const r = await execa('dpkg-query', ['-W', '-f=${Status}', pkg], { reject: false });
  return r.exitCode === 0 && String(r.stdout).trim().endsWith(' installed');
}

async function main(): Promise<void> {
  const missing: string[] = [];
  for (const pkg of REQUIRED_PACKAGES) if (!(await isInstalled(pkg))) missing.push(pkg);
  if (missing.length === 0) {
    process.stdout.write(`system-deps: all present (${REQUIRED_PACKAGES.join(' ')})\n`);
    return;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await execa('apt-get', ['update'], { env, reject: false, all: true });
  if (update.exitCode !== 0) throw new Error(`apt-get update failed (exit ${update.exitCode}): ${String(update.all).trim().split('\n').slice(-3).join(' | ')}`);
  const install = await execa('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, reject: false, all: true });
  if (install.exitCode !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed (exit ${install.exitCode}): ${String(install.all).trim().split('\n').slice(-3).join(' | ')}`);
  const still: string[] = [];
  for (const pkg of missing) if (!(await isInstalled(pkg))) still.push(pkg);
  if (still.length) throw new Error(`still missing after apt-get install: ${still.join(' ')}`);
  process.stdout.write(`system-deps: installed ${missing.join(' ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`system-deps: FAILED: ${(err as Error).message}\n`);
  process.exit(1);
});
