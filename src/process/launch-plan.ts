/**
 * What to run for a SpawnRequest, shared by every spawner (node-spawner.ts, native-spawner.ts):
 * the program itself, the exec shim in front of it, or the /bin/sh pid shim when the exec shim
 * was not built; or why nothing can run. Only stat/access, no process is started here.
 *
 * Invariants:
 * - A missing program or working directory is a Failure here (a spawn error), never a shim's
 *   exit 127 or a misleading "program not found" for a missing directory.
 * - uid/gid are set on the Launch only without the exec shim; then the spawner itself changes
 *   identity (the shim, when used, is started as root and drops root itself).
 */
import { statSync } from 'node:fs';
import { needsShim, shimArgv, type LaunchRequest } from './exec-shim.js';
import { resolveProgram } from './resolve-program.js';

export type Failure = { ok: false; errno: string; message: string };

/** A ready command line: `file` run with argv `[file, ...args]` in `cwd`. */
export interface Launch {
  file: string;
  args: string[];
  cwd: string;
  /** Only when the spawner itself changes identity (no shim); the shim is spawned as root. */
  uid?: number;
  gid?: number;
}

/** Decides what to run, or why nothing can run; `shim` is the exec shim's path, if built. */
export function planLaunch(request: LaunchRequest, shim: string | undefined): Launch | Failure {
  const [program, ...args] = request.command;
  if (program === undefined) return { ok: false, errno: 'EINVAL', message: 'empty command' };
  if (request.uid !== undefined && request.gid === undefined) {
    return {
      ok: false,
      errno: 'EINVAL',
      message: `uid ${request.uid} given without a gid: the service would keep group root; set its group too`,
    };
  }
  const useShim = needsShim(request) ? shim : undefined;
  // With a uid the shim enters the directory as the user and reports a failure itself (exit
  // 126, reason in the log). Otherwise the spawn would report a missing working directory as
  // "spawn <program> ENOENT", which sends the operator looking for the wrong file; check it
  // first to name the real culprit.
  const shimChdirs = useShim !== undefined && request.uid !== undefined;
  if (!shimChdirs) {
    const dirProblem = checkDirectory(request.directory);
    if (dirProblem !== undefined) return dirProblem;
  }
  if (useShim !== undefined) {
    const resolved = resolveProgram(program, request.env.PATH, request.directory);
    if (!resolved.ok) return resolved;
    return { file: useShim, args: shimArgv(request, resolved.path), cwd: shimChdirs ? '/' : request.directory };
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

export function checkDirectory(directory: string): Failure | undefined {
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

/** The message of a spawn error, for the errnos an operator can act on; else `fallback`. */
export function describeSpawnError(program: string, errno: string, fallback: string): string {
  switch (errno) {
    case 'ENOENT':
      return `program ${program} not found`;
    case 'EACCES':
      return `permission denied executing ${program}`;
    case 'ENOEXEC':
      // Only posix_spawn says so: Node's execvp runs such a file with /bin/sh instead.
      return `${program} is not a program this system can run (no #! line, or built for another machine)`;
    default:
      return fallback;
  }
}
