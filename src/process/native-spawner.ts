/**
 * Spawner on posix_spawn (native/spawn, built to native/spawn/build/Release/spawn.node). Node's
 * child_process forks the daemon's whole address space for every child; posix_spawn (a vfork
 * in glibc) copies nothing, so a start storm of many services costs a fraction of the time, and
 * a restart after a crash does not wait for a copy of the heap. Exits come from a pidfd watched
 * on Node's event loop (no polling, no SIGCHLD race with Node's own children).
 *
 * Same contract and same behaviour as NodeSpawner for every SpawnRequest field, from the same
 * plan (launch-plan.ts): program and directory checked first, the exec shim in front of the
 * program for identity/limits/cgroups/pid variables, `fds` at 3, 4, …, stdin from /dev/null,
 * stdout/stderr through pipes, which the addon reads on Node's loop (no JS stream per pipe: less
 * work at every start and exit). A request with a cgroup v2 directory (`cgroupV2`) is created in
 * it by the addon (clone3 CLONE_INTO_CGROUP) where nativeSpawnerIntoCgroup() says so, and that
 * directory is left out of what the shim joins: a plain service then runs without the shim.
 * Differences, all on the safe side:
 * - every fd of the daemon other than stdio and `fds` is closed in the child, also the ones it
 *   inherited without close-on-exec (Node passes those on);
 * - every signal starts at its default action and unblocked (Node resets only 1..31).
 * What it hands to NodeSpawner instead: everything while the addon is missing or the kernel has
 * no pidfd (nativeSpawnerAvailable() says which), and the rare request that needs a uid/gid
 * while the exec shim is not built (posix_spawn cannot change identity; Node's uid option can).
 */
import { isAbsolute } from 'node:path';
import { execShimPath, type LaunchRequest } from './exec-shim.js';
import { checkDirectory, describeSpawnError, planLaunch, type Failure, type Launch } from './launch-plan.js';
import { loadAddon } from './native-addon.js';
import { NodeSpawner } from './node-spawner.js';
import { resolveProgram } from './resolve-program.js';
import type { SpawnCallbacks, Spawner } from './spawner.js';

/** native/spawn/spawn.c; see its header for the exact guarantees. */
interface SpawnAddon {
  /** False on a kernel without pidfd_open/waitid(P_PIDFD) (Linux < 5.4): spawn would throw ENOSYS. */
  pidfd: boolean;
  /** True where a child can be created in a cgroup v2 directory (clone3 CLONE_INTO_CGROUP). */
  intoCgroup: boolean;
  /**
   * True where every child starts through the addon's own clone3, which shares the daemon's fd
   * table and copies only a few low fds (a copy of thousands of fds per start otherwise).
   */
  ownClone?: boolean;
  /**
   * Throws an Error with the errno name as `code` when the program did not start; with a
   * `cgroup` property (the directory) when the cgroup was the reason.
   */
  spawn(
    file: string,
    argv: string[],
    envp: string[],
    cwd: string,
    fds: number[],
    onExit: (code: number | null, signal: string | null) => void,
    cgroup?: string,
    viaPosixSpawn?: boolean,
    /** With it, the addon reads both pipes (stream 0: stdout, 1: stderr); stdout/stderr are -1. */
    onOutput?: (stream: 0 | 1, chunk: Buffer) => void,
  ): { pid: number; stdout: number; stderr: number };
}

function usableAddon(): SpawnAddon | null {
  const addon = loadAddon<SpawnAddon>('spawn', (m) => typeof m.spawn === 'function' && typeof m.pidfd === 'boolean');
  return addon !== null && addon.pidfd ? addon : null;
}

/** True when the addon is built and this kernel can report exits by pidfd. */
export function nativeSpawnerAvailable(): boolean {
  return usableAddon() !== null;
}

/** True when, besides, a process can be created in its cgroup v2 directory (SpawnRequest.cgroupV2). */
export function nativeSpawnerIntoCgroup(): boolean {
  return usableAddon()?.intoCgroup === true;
}

/** True when the addon starts children through its own clone3 (see SpawnAddon.ownClone). */
export function nativeSpawnerOwnClone(): boolean {
  return usableAddon()?.ownClone === true;
}

export interface NativeSpawnerOptions {
  /** Path of upkeep-exec; null runs without it (the fallback). Default: the built one, if any. */
  execShim?: string | null;
  /**
   * 'posix_spawn': a child outside a cgroup starts through glibc's posix_spawn even where the
   * addon's own clone3 could start it (the contract suite runs both paths). Default: the faster.
   */
  via?: 'posix_spawn';
}

export class NativeSpawner implements Spawner {
  private readonly shim: string | undefined;
  private readonly addon = usableAddon();
  private readonly fallback: NodeSpawner;
  private readonly viaPosixSpawn: boolean;

  constructor(options: NativeSpawnerOptions = {}) {
    this.viaPosixSpawn = options.via === 'posix_spawn';
    this.shim = options.execShim === undefined ? execShimPath() : (options.execShim ?? undefined);
    this.fallback = new NodeSpawner({ execShim: this.shim ?? null });
  }

  spawn(request: LaunchRequest, callbacks: SpawnCallbacks): void {
    const addon = this.addon;
    if (addon === null) return this.fallback.spawn(request, callbacks);
    // Born in its v2 cgroup, the program needs no shim to join it (nor the wait a join costs).
    const bornIn = addon.intoCgroup ? request.cgroupV2 : undefined;
    const launch = planLaunch(bornIn === undefined ? request : withoutCgroup(request, bornIn), this.shim);
    if ('ok' in launch) return void queueMicrotask(() => callbacks.done(launch));
    if (launch.uid !== undefined || launch.gid !== undefined) return this.fallback.spawn(request, callbacks);
    const file = programFile(launch, request.env.PATH);
    if (typeof file !== 'string') return void queueMicrotask(() => callbacks.done(file));
    const envp: string[] = [];
    for (const [name, value] of Object.entries(request.env)) if (value !== undefined) envp.push(`${name}=${value}`);
    let child;
    try {
      child = addon.spawn(
        file,
        [launch.file, ...launch.args],
        envp,
        launch.cwd,
        request.fds ?? [],
        (code, signal) => callbacks.onExit(code, signal),
        bornIn,
        this.viaPosixSpawn,
        (stream, chunk) => callbacks.onOutput(stream === 0 ? 'out' : 'err', chunk),
      );
    } catch (err) {
      const failure = spawnFailure(launch, err as NodeJS.ErrnoException);
      return void queueMicrotask(() => callbacks.done(failure));
    }
    // A microtask, as Node's 'spawn' event is a tick: done() never runs inside spawn(), and
    // always before onExit and onOutput, which come from later turns of the event loop.
    queueMicrotask(() => callbacks.done({ ok: true, pid: child.pid }));
  }
}

/** The request without `dir` among the cgroups to join (the process is created in it). */
function withoutCgroup(request: LaunchRequest, dir: string): LaunchRequest {
  const { cgroup, ...rest } = request;
  const others = (typeof cgroup === 'string' ? [cgroup] : (cgroup ?? [])).filter((d) => d !== dir);
  return others.length > 0 ? { ...rest, cgroup: others } : rest;
}

/**
 * The file to hand to posix_spawn, which (unlike execvp) searches no PATH: a bare name is
 * resolved here the way Node's spawn would resolve it, a relative path against the working
 * directory. An absolute path goes as it is, and posix_spawn itself reports ENOENT/EACCES.
 */
function programFile(launch: Launch, pathEnv: string | undefined): string | Failure {
  if (isAbsolute(launch.file)) return launch.file;
  const resolved = resolveProgram(launch.file, pathEnv, launch.cwd);
  return resolved.ok ? resolved.path : resolved;
}

/** posix_spawn says ENOENT both for a missing program and for a chdir into a directory that
 *  vanished since the plan checked it: name the directory when it is the culprit. */
function spawnFailure(launch: Launch, err: NodeJS.ErrnoException & { cgroup?: string }): Failure {
  const errno = err.code ?? 'EUNKNOWN';
  if (err.cgroup !== undefined) return { ok: false, errno, message: err.message };
  const dirProblem = errno === 'ENOENT' || errno === 'ENOTDIR' || errno === 'EACCES' ? checkDirectory(launch.cwd) : undefined;
  return dirProblem ?? { ok: false, errno, message: describeSpawnError(launch.file, errno, err.message) };
}
