/**
 * Spawner on Node's child_process. Each child gets `detached: true` (setsid: its own session and
 * process group), stdin from /dev/null, stdout/stderr as pipes read by the daemon for the logs.
 * We listen for 'exit' rather than 'close': a grandchild holding the pipes open must not delay
 * the exit event of the service.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { resolveProgram } from './resolve-program.js';
import type { SpawnCallbacks, SpawnRequest, Spawner } from './spawner.js';

export class NodeSpawner implements Spawner {
  spawn(request: SpawnRequest, callbacks: SpawnCallbacks): void {
    // Node reports a missing working directory as "spawn <program> ENOENT", which sends the
    // operator looking for the wrong file; check it first to name the real culprit.
    const dirProblem = checkDirectory(request.directory);
    if (dirProblem !== undefined) {
      queueMicrotask(() => callbacks.done(dirProblem));
      return;
    }
    let [program, ...args] = request.command;
    if (program === undefined) {
      queueMicrotask(() => callbacks.done({ ok: false, errno: 'EINVAL', message: 'empty command' }));
      return;
    }
    if (request.pidEnv !== undefined && request.pidEnv.length > 0) {
      // The pid is known only after fork: a /bin/sh shim exports its own pid ($$) and then
      // execs the program, which keeps that pid. Resolve first, so a missing program stays a
      // spawn-error instead of becoming the shell's exit 127.
      const resolved = resolveProgram(program, request.env.PATH, request.directory);
      if (!resolved.ok) {
        queueMicrotask(() => callbacks.done(resolved));
        return;
      }
      const exports = request.pidEnv.map((name) => `${name}=$$`).join(' ');
      args = ['-c', `export ${exports}; exec "$@"`, 'upkeep-exec', resolved.path, ...args];
      program = '/bin/sh';
    }
    let child;
    try {
      child = spawn(program, args, {
        cwd: request.directory,
        env: request.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        uid: request.uid,
        gid: request.gid,
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
      callbacks.done({ ok: false, errno, message: describeSpawnError(program, errno, err.message) });
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

function checkDirectory(directory: string): { ok: false; errno: string; message: string } | undefined {
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
