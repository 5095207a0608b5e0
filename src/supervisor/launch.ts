/**
 * What one run of a service is started with: its environment and its spawn request. Pure: the
 * runner passes in what it holds (notify socket, listening sockets, cgroup) and gets data back.
 *
 * Environment, in order: the base (the daemon's environment for its own services; for a service
 * that runs as another user, a clean one: PATH, the locale and TZ of the daemon, and HOME, USER,
 * LOGNAME, SHELL of that user, so nothing of root's environment leaks to a tenant), then the
 * service file's `environment`, then the protocol variables, which nothing overrides.
 */
import type { RunAs, ServiceSpec } from '../config/spec.js';
import type { SpawnRequest } from '../process/spawner.js';

/** Variables of the daemon's environment that a service of another user still gets. */
const PASSED_TO_USERS = /^(PATH|LANG|LANGUAGE|TZ|LC_[A-Z_]+)$/;
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunExtras {
  notifyPath?: string;
  /** Listening sockets passed at fds 3, 4, … with their LISTEN_FDNAMES. */
  sockets?: { fds: readonly number[]; names: readonly string[] };
  /** cgroup directories to join. */
  cgroup?: readonly string[];
  /** The one of them on cgroup v2 (a spawner may create the process in it instead). */
  cgroupV2?: string;
}

export function userBaseEnv(base: Readonly<Record<string, string>>, user: RunAs): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (PASSED_TO_USERS.test(k)) env[k] = v;
  env.PATH ??= DEFAULT_PATH;
  env.HOME = user.home;
  env.USER = user.user;
  env.LOGNAME = user.user;
  env.SHELL = user.shell;
  return env;
}

export function serviceEnv(spec: ServiceSpec, base: Readonly<Record<string, string>>, extras: RunExtras): Record<string, string> {
  const start = spec.runAs === undefined ? base : userBaseEnv(base, spec.runAs);
  const env: Record<string, string> = { ...start, ...spec.environment };
  if (spec.watchdogMs !== undefined) env.WATCHDOG_USEC = String(spec.watchdogMs * 1000);
  if (extras.notifyPath !== undefined) env.NOTIFY_SOCKET = extras.notifyPath;
  if (extras.sockets !== undefined) {
    env.LISTEN_FDS = String(extras.sockets.fds.length);
    env.LISTEN_FDNAMES = extras.sockets.names.join(':');
  }
  return env;
}

export function spawnRequest(spec: ServiceSpec, env: Record<string, string>, extras: RunExtras): SpawnRequest {
  const request: SpawnRequest = { command: spec.command, directory: spec.directory, env };
  const pidEnv: string[] = [];
  if (spec.watchdogMs !== undefined) pidEnv.push('WATCHDOG_PID');
  if (extras.sockets !== undefined) {
    pidEnv.push('LISTEN_PID');
    request.fds = [...extras.sockets.fds];
  }
  if (pidEnv.length > 0) request.pidEnv = pidEnv;
  if (spec.runAs !== undefined) {
    request.uid = spec.runAs.uid;
    request.gid = spec.runAs.gid;
    request.groups = spec.runAs.groups;
  }
  const rlimits: NonNullable<SpawnRequest['rlimits']> = {};
  for (const key of ['nofile', 'nproc', 'core'] as const) {
    const value = spec.limits[key];
    if (value !== undefined) rlimits[key] = value;
  }
  if (Object.keys(rlimits).length > 0) request.rlimits = rlimits;
  if (spec.umask !== undefined) request.umask = spec.umask;
  if (spec.nice !== undefined) request.nice = spec.nice;
  if (extras.cgroup !== undefined && extras.cgroup.length > 0) request.cgroup = extras.cgroup;
  if (extras.cgroupV2 !== undefined) request.cgroupV2 = extras.cgroupV2;
  return request;
}
