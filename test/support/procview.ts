// procview's own service (cli/procview.ts `serve`, written elsewhere) on a
// temp mountpoint. Contract: `node dist/cli/procview.js serve --mountpoint
// <dir> --foreground` serves the LXCFS layout at <dir> until SIGTERM.
import { access, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { unmountQuietly, waitForMeminfo } from './fuse-wait.js';

// Compiled to dist/test/support/procview.js.
export const PROCVIEW_CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'procview.js');

export interface RunningProcview {
  mountPoint: string;
  /** The keeper: the `procview serve` process itself. */
  pid: number;
  /** True while the server process is running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** A fixed mountpoint (kept on stop), e.g. to start procview again on the same place. */
  mountPoint?: string;
  /** More `procview serve` flags. */
  extraArgs?: string[];
}

export async function startProcview(options: StartOptions = {}): Promise<RunningProcview> {
  await access(PROCVIEW_CLI).catch(() => {
    throw new Error(`${PROCVIEW_CLI} does not exist (the procview service has not been built)`);
  });
  const base = options.mountPoint ? null : await mkdtemp(path.join(tmpdir(), 'procview-serve-'));
  const mountpoint = options.mountPoint ?? path.join(base!, 'mnt');
  // A stale mount (a crashed run) answers ENOTCONN: procview serve itself deals with it.
  await mkdir(mountpoint, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST' && err.code !== 'ENOTCONN') throw err;
  });
  const args = [PROCVIEW_CLI, 'serve', '--mountpoint', mountpoint, '--foreground', ...(options.extraArgs ?? [])];
  const child: ResultPromise = execa(process.execPath, args, {
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: { all: true },
  });
  let exited = false;
  void child.then(() => {
    exited = true;
  });
  try {
    await waitForMeminfo(mountpoint, 15_000, () => exited);
  } catch (err) {
    child.kill('SIGKILL');
    const out = await child.then((r) => String(r.all ?? '')).catch(() => '');
    await unmountQuietly(mountpoint);
    if (base) await rm(base, { recursive: true, force: true });
    throw new Error(`procview serve did not come up on ${mountpoint}: ${(err as Error).message}\n${out.split('\n').slice(-10).join('\n')}`);
  }
  let stopped = false;
  return {
    mountPoint: mountpoint,
    pid: child.pid!,
    alive: () => !exited,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child.catch(() => undefined);
      clearTimeout(timer);
      await unmountQuietly(mountpoint);
      if (base) await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}
