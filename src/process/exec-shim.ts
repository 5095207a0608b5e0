/**
 * The exec shim (native/exec, built to native/exec/build/Release/upkeep-exec): how to find it and
 * how a SpawnRequest becomes its command line. The shim runs as root in front of the program,
 * joins the cgroup(s), sets rlimits, nice and umask, drops to the user (groups, gid, uid), changes
 * directory as that user, exports the pid variables and execs the program, which keeps the pid.
 *
 * Invariants:
 * - shimArgv is pure: same request, same argv; it never validates what the shim validates
 *   itself (a bad value becomes exit 126 with a one-line reason in the service's log).
 * - The program is passed resolved (absolute): PATH search happens in Node, so that a missing
 *   program stays a spawn error and never becomes the shim's exit 127.
 * - --chdir is passed only with a uid: then the shim enters the directory as the user, and the
 *   spawner starts the shim in "/". Without a uid, Node's cwd does it, as for any program.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SpawnRequest } from './spawner.js';

/**
 * A SpawnRequest whose cgroup may be several directories: cgroup v1 mounts each controller as
 * its own hierarchy, and a process must join every one of them (memory, pids, ...) to be limited
 * by each. cgroups.ts gives them as ServiceCgroup.dirs.
 */
export type LaunchRequest = Omit<SpawnRequest, 'cgroup'> & { cgroup?: string | readonly string[] };

const binaryName = 'upkeep-exec';
let cachedPath: string | undefined | null = null;

/**
 * Walks up from this file to the first directory holding native/exec/build/Release/upkeep-exec:
 * this file runs as dist/src/process/exec-shim.js, but also from src/ under a TS loader.
 * Looked up once; undefined when it was never built.
 */
export function execShimPath(): string | undefined {
  if (cachedPath !== null) return cachedPath;
  const relative = path.join('native', 'exec', 'build', 'Release', binaryName);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, relative);
    if (isExecutable(candidate)) return (cachedPath = candidate);
    const parent = path.dirname(dir);
    if (parent === dir) return (cachedPath = undefined);
    dir = parent;
  }
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** True when the request asks for anything only the shim (or the /bin/sh fallback) can do. */
export function needsShim(request: LaunchRequest): boolean {
  return (
    request.uid !== undefined ||
    request.gid !== undefined ||
    (request.groups !== undefined && request.groups.length > 0) ||
    (request.pidEnv !== undefined && request.pidEnv.length > 0) ||
    (request.rlimits !== undefined && Object.keys(request.rlimits).length > 0) ||
    request.umask !== undefined ||
    request.nice !== undefined ||
    cgroupDirs(request).length > 0
  );
}

/** The shim's arguments (without the shim itself): options, "--", the program and its args. */
export function shimArgv(request: LaunchRequest, resolvedProgram: string): string[] {
  const argv: string[] = [];
  for (const dir of cgroupDirs(request)) argv.push('--cgroup', dir);
  for (const [name, value] of Object.entries(request.rlimits ?? {})) {
    if (value !== undefined) argv.push('--rlimit', `${name}=${value}`);
  }
  if (request.nice !== undefined) argv.push('--nice', String(request.nice));
  if (request.umask !== undefined) argv.push('--umask', request.umask.toString(8).padStart(4, '0'));
  // Groups only make sense while changing identity; the shim clears root's own groups
  // whenever a uid or gid is given without a list.
  if (request.groups !== undefined && (request.uid !== undefined || request.gid !== undefined)) {
    argv.push('--groups', request.groups.join(','));
  }
  if (request.gid !== undefined) argv.push('--gid', String(request.gid));
  if (request.uid !== undefined) argv.push('--uid', String(request.uid), '--chdir', request.directory);
  for (const name of request.pidEnv ?? []) argv.push('--pid-env', name);
  argv.push('--', resolvedProgram, ...request.command.slice(1));
  return argv;
}

function cgroupDirs(request: LaunchRequest): readonly string[] {
  if (request.cgroup === undefined) return [];
  return typeof request.cgroup === 'string' ? [request.cgroup] : request.cgroup;
}

/**
 * What the daemon should say once at start when the shim was not built; undefined when it is
 * there. Without it the spawner still runs services as a user (Node's own uid/gid) and exports
 * pid variables (a /bin/sh shim), but applies nothing else.
 */
export function shimMissingWarning(): string | undefined {
  if (execShimPath() !== undefined) return undefined;
  return (
    `${binaryName} not found (native/exec/build/Release/${binaryName}; build it with \`npm run build:native\`): ` +
    'services still run as their user and get WATCHDOG_PID/LISTEN_PID, but supplementary groups, ' +
    'rlimits, umask, nice and cgroups are not applied, and the working directory is entered as root'
  );
}
