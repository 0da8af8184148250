// Debian's lxcfs (5.0.x) in the foreground on a temp mountpoint, as an
// LXCFS-layout source for the hook. --enable-cfs makes cpuinfo/online follow
// CPU quotas (--cpus), -l virtualises loadavg; without --enable-cfs lxcfs
// only honours cpusets.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { waitForMeminfo, unmountQuietly } from './fuse-wait.js';

export interface RunningLxcfs {
  mountPoint: string;
  /** True while the server process is running. */
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startLxcfs(): Promise<RunningLxcfs> {
  const base = await mkdtemp(path.join(tmpdir(), 'procview-lxcfs-'));
  const mountpoint = path.join(base, 'mnt');
  await execa('mkdir', ['-p', mountpoint]);
  const child: ResultPromise = execa('lxcfs', ['-f', '--enable-cfs', '-l', '-p', path.join(base, 'lxcfs.pid'), mountpoint], {
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
    await waitForMeminfo(mountpoint, 10_000, () => exited);
  } catch (err) {
    child.kill('SIGKILL');
    const out = await child.then((r) => String(r.all ?? '')).catch(() => '');
    await unmountQuietly(mountpoint);
    await rm(base, { recursive: true, force: true });
    throw new Error(`lxcfs did not come up on ${mountpoint}: ${(err as Error).message}\n${out.split('\n').slice(-5).join('\n')}`);
  }
  let stopped = false;
  return {
    mountPoint: mountpoint,
    alive: () => !exited,
    async stop() {
      if (stopped) return;
      stopped = true;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child.catch(() => undefined);
      clearTimeout(timer);
      await unmountQuietly(mountpoint);
      await rm(base, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

export async function hostMemTotalKb(): Promise<number> {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(await readFile('/proc/meminfo', 'utf8'));
  if (!m) throw new Error('no MemTotal in /proc/meminfo');
  return Number(m[1]);
}
