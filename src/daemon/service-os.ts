/**
 * How the daemon meets the OS for its services: users from the password file, listening sockets
 * of socket activation (with a tenant's file-system identity for their Unix paths), per-service
 * cgroups where the machine allows them, and the base environment services start from. Used
 * only by daemon.ts, which wires them into the supervisor.
 */
import { createHash } from 'node:crypto';
import type { RunAs, ServiceSpec } from '../config/spec.js';
import { UpkeepError } from '../errors.js';
import { detectCgroups, type CgroupSupport } from '../process/cgroups.js';
import { openListeners } from '../process/listen-sockets.js';
import { lookupGroup, lookupUser, type UserDatabase, type UserEntry } from '../process/users.js';

export function toRunAs(entry: UserEntry | undefined): RunAs | undefined {
  return entry === undefined
    ? undefined
    : { user: entry.name, uid: entry.uid, gid: entry.gid, groups: entry.groups, home: entry.home, shell: entry.shell };
}

export function daemonUser(users: UserDatabase): { user: string; home: string } {
  const me = users.userByUid(process.getuid?.() ?? 0);
  return { user: me?.name ?? 'root', home: me?.home ?? '/root' };
}

/**
 * The listening sockets of a [socket] service. A tenant's Unix sockets are bound with the
 * tenant's file-system identity (their folder, their rights, their file); root's may be given
 * to an owner.
 */
export function openServiceSockets(spec: ServiceSpec) {
  const socket = spec.socket!;
  const options: Parameters<typeof openListeners>[1] = { mode: socket.mode, backlog: socket.backlog };
  if (spec.tenant !== undefined && spec.runAs !== undefined) {
    options.uid = spec.runAs.uid;
    options.gid = spec.runAs.gid;
  } else if (socket.owner !== undefined) {
    const [user, group] = socket.owner.split(':');
    const u = lookupUser(user!);
    if (u === undefined) throw new UpkeepError('unknown-user', `socket.owner: no user named ${JSON.stringify(user)}`);
    const gid = group === undefined ? u.gid : lookupGroup(group)?.gid;
    if (gid === undefined) throw new UpkeepError('unknown-group', `socket.owner: no group named ${JSON.stringify(group)}`);
    options.owner = { uid: u.uid, gid };
  }
  return openListeners(socket.listen, options);
}

/**
 * Per-service cgroups where the machine lets the daemon make them, under a parent of this
 * daemon's own (named after its state folder, so two daemons never share one).
 */
export function cgroupSupport(stateDir: string, specs: ReadonlyMap<string, ServiceSpec>, say: (line: string) => void) {
  const parent = `upkeep-${createHash('sha256').update(stateDir).digest('hex').slice(0, 12)}`;
  const support: CgroupSupport = detectCgroups({ parent });
  const limited = [...specs.values()].filter((s) => s.limits.memory !== undefined || s.limits.pids !== undefined);
  if (!support.available) {
    if (limited.length > 0) {
      say(`WARNING: memory and pids limits are not applied (${support.reason}): ${limited.map((s) => s.name).join(', ')}`);
    }
    return undefined;
  }
  for (const note of support.notes) if (limited.length > 0) say(`cgroups: ${note}`);
  return support;
}

/** The environment services start from: the daemon's, minus what only concerns the daemon. */
export function serviceBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'UPKEEP_SOCKET' || k === 'NOTIFY_SOCKET' || k.startsWith('LISTEN_')) continue;
    env[k] = v;
  }
  return env;
}
