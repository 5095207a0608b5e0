/**
 * Spawner on Node's child_process. Each child gets `detached: true` (setsid: its own session and
 * process group), stdin from /dev/null, stdout/stderr as pipes read by the daemon for the logs,
 * and `request.fds` as fds 3, 4, … (socket activation). We listen for 'exit' rather than
 * 'close': a grandchild holding the pipes open must not delay the exit event of the service.
 *
 * A request that needs set-up before exec (user, groups, limits, umask, nice, cgroup, pid
 * variables) runs through the exec shim (exec-shim.ts): Node spawns the shim as root, and the
 * shim drops root itself after the steps that need it. Without a built shim we fall back to
 * Node's own uid/gid and a /bin/sh shim for the pid variables; the rest is not applied
 * (shimMissingWarning() says so once).
 * In both cases the program is resolved here first, so a missing program is a spawn error,
 * never a shim's exit 127.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { execShimPath, type LaunchRequest } from './exec-shim.js';
import { describeSpawnError, planLaunch } from './launch-plan.js';
import type { SpawnCallbacks, Spawner } from './spawner.js';

export interface NodeSpawnerOptions {
  /** Path of upkeep-exec; null runs without it (the fallback). Default: the built one, if any. */
  execShim?: string | null;
}

export class NodeSpawner implements Spawner {
  private readonly shim: string | undefined;

  constructor(options: NodeSpawnerOptions = {}) {
    this.shim = options.execShim === undefined ? execShimPath() : (options.execShim ?? undefined);
  }

  spawn(request: LaunchRequest, callbacks: SpawnCallbacks): void {
    const launch = planLaunch(request, this.shim);
    if ('ok' in launch) {
      queueMicrotask(() => callbacks.done(launch));
      return;
    }
    let child;
    try {
      child = spawn(launch.file, launch.args, {
        cwd: launch.cwd,
        env: request.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', ...(request.fds ?? [])] as StdioOptions,
        uid: launch.uid,
        gid: launch.gid,
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      queueMicrotask(() => callbacks.done({ ok: false, errno: e.code ?? 'EUNKNOWN', message: e.message }));
      return;
    }
    let settled = false;
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return; // errors after a successful spawn (a failed kill) are not spawn errors
      settled = true;
      const errno = err.code ?? 'EUNKNOWN';
      callbacks.done({ ok: false, errno, message: describeSpawnError(launch.file, errno, err.message) });
    });
    child.once('spawn', () => {
      settled = true;
      callbacks.done({ ok: true, pid: child.pid as number });
    });
    child.stdout?.on('data', (chunk: Buffer) => callbacks.onOutput('out', chunk));
    child.stderr?.on('data', (chunk: Buffer) => callbacks.onOutput('err', chunk));
    child.once('exit', (code, signal) => callbacks.onExit(code, signal));
  }
}
