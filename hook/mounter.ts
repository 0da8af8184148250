// Bind mounts inside the container's mount namespace, all or nothing.
import { execa } from 'execa';
import { tool } from './tools.js';

export interface Bind {
  /** Host path of the served file. */
  source: string;
  /** Host path under the rootfs, as seen in the container's mount namespace. */
  target: string;
}

const STEP_TIMEOUT_MS = 3000;

async function inMountNs(pid: number, argv: string[]): Promise<{ ok: boolean; detail: string }> {
  const r = await execa(tool('nsenter'), ['--target', String(pid), '--mount', '--', ...argv], {
    timeout: STEP_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    reject: false,
    stdin: 'ignore',
  });
  if (r.timedOut) return { ok: false, detail: `timed out after ${STEP_TIMEOUT_MS} ms` };
  const detail = String(r.stderr || r.stdout || '').trim().split('\n')[0] ?? '';
  return { ok: r.exitCode === 0, detail: detail || `exit ${r.exitCode}` };
}

export class BindError extends Error {}

/** Bind every source over its target; on the first failure undo the binds already made and throw. */
export async function bindAll(pid: number, binds: readonly Bind[]): Promise<void> {
  const done: Bind[] = [];
  for (const b of binds) {
    // --no-mtab: the container's /etc is none of our business.
    const r = await inMountNs(pid, [tool('mount'), '--no-mtab', '--bind', b.source, b.target]);
    if (!r.ok) {
      const undo = await unbindAll(pid, done);
      throw new BindError(`bind ${b.source} -> ${b.target} failed: ${r.detail}${undo ? `; ${undo}` : ''}`);
    }
    done.push(b);
  }
}

/** Undo binds, newest first. Returns a description of what could not be undone, if anything. */
export async function unbindAll(pid: number, binds: readonly Bind[]): Promise<string | undefined> {
  const stuck: string[] = [];
  for (const b of [...binds].reverse()) {
    let r = await inMountNs(pid, [tool('umount'), '--no-mtab', b.target]);
    // Nothing in the container runs yet, so "busy" is unexpected; detach anyway.
    if (!r.ok) r = await inMountNs(pid, [tool('umount'), '--no-mtab', '--lazy', b.target]);
    if (!r.ok) stuck.push(`${b.target} (${r.detail})`);
  }
  return stuck.length ? `could not undo: ${stuck.join(', ')}` : undefined;
}
