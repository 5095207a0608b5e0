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
import { statSync } from 'node:fs';
import { execShimPath, needsShim, shimArgv, type LaunchRequest } from './exec-shim.js';
import { resolveProgram } from './resolve-program.js';
import type { SpawnCallbacks, Spawner } from './spawner.js';

type Failure = { ok: false; errno: string; message: string };

/** A ready command line for child_process.spawn. */
interface Launch {
  file: string;
  args: string[];
  cwd: string;
  /** Only when Node itself changes identity (no shim); the shim is spawned as root. */
  uid?: number;
  gid?: number;
}

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
    const launch = this.plan(request);
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

  /** Decides what to run, or why nothing can run. No side effects beyond stat/access. */
  private plan(request: LaunchRequest): Launch | Failure {
    const [program, ...args] = request.command;
    if (program === undefined) return { ok: false, errno: 'EINVAL', message: 'empty command' };
    if (request.uid !== undefined && request.gid === undefined) {
      return {
        ok: false,
        errno: 'EINVAL',
        message: `uid ${request.uid} given without a gid: the service would keep group root; set its group too`,
      };
    }
    const shim = needsShim(request) ? this.shim : undefined;
    // With a uid the shim enters the directory as the user and reports a failure itself (exit
    // 126, reason in the log). Otherwise Node would report a missing working directory as
    // "spawn <program> ENOENT", which sends the operator looking for the wrong file; check it
    // first to name the real culprit.
    const shimChdirs = shim !== undefined && request.uid !== undefined;
    if (!shimChdirs) {
      const dirProblem = checkDirectory(request.directory);
      if (dirProblem !== undefined) return dirProblem;
    }
    if (shim !== undefined) {
      const resolved = resolveProgram(program, request.env.PATH, request.directory);
      if (!resolved.ok) return resolved;
      return { file: shim, args: shimArgv(request, resolved.path), cwd: shimChdirs ? '/' : request.directory };
    }
    const identity = { uid: request.uid, gid: request.gid };
    if (request.pidEnv !== undefined && request.pidEnv.length > 0) {
      // The pid is known only after fork: a /bin/sh shim exports its own pid ($$) and then
      // execs the program, which keeps that pid.
      const resolved = resolveProgram(program, request.env.PATH, request.directory);
      if (!resolved.ok) return resolved;
      const exports = request.pidEnv.map((name) => `${name}=$$`).join(' ');
      const shArgs = ['-c', `export ${exports}; exec "$@"`, 'upkeep-exec', resolved.path, ...args];
      return { file: '/bin/sh', args: shArgs, cwd: request.directory, ...identity };
    }
    return { file: program, args, cwd: request.directory, ...identity };
  }
}

function checkDirectory(directory: string): Failure | undefined {
  try {
    if (!statSync(directory).isDirectory()) {
      return { ok: false, errno: 'ENOTDIR', message: `directory ${directory} is not a directory` };
    }
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    return { ok: false, errno, message: `directory ${directory} cannot be used (${errno})` };
  }
  return undefined;
}

function describeSpawnError(program: string, errno: string, fallback: string): string {
  switch (errno) {
    case 'ENOENT':
      return `program ${program} not found`;
    case 'EACCES':
      return `permission denied executing ${program}`;
    default:
      return fallback;
  }
}
