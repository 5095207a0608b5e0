/**
 * One cgroup per service, where the machine lets the daemon make them: every process of the
 * service is found (pids()) and killed (kill()) even after it left the process group (setsid,
 * double fork), limits are enforced by the kernel (memoryMax, pidsMax), and where cgroup v2 is
 * mounted the end of the last process is an event (onEmpty, via cgroup.events, no polling).
 *
 * Layout: <hierarchy>/<the daemon's own cgroup>/<parent>/[<tenant>.tenant/]<name>.service, with
 * parent "upkeep" by default. Living under the daemon's own cgroup is what delegation means
 * (systemd Delegate=yes): we never write outside the subtree we were started in.
 * Kinds of machine:
 * - 'v2': one unified hierarchy; limits where the memory/pids controllers reach our subtree.
 * - 'hybrid': cgroup2 (tracking, cgroup.kill, cgroup.events) plus v1 memory and pids
 *   hierarchies for the limits that v2 does not have. A process joins each of them: the
 *   handle's `dirs` all go to the exec shim (one --cgroup each).
 * - 'v1': v1 hierarchies only; no onEmpty, kill signals each pid.
 * Invariants:
 * - Service names map to directory names that cannot collide with each other or with the
 *   kernel's control files ("memory.max"): see dirName().
 * - createServiceCgroup is level-triggered: an existing directory (left from before a daemon
 *   restart) is reused, and limits not asked for are reset to unlimited.
 * - A limit asked for on a machine that cannot enforce it is an error, never silently dropped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UpkeepError } from '../errors.js';

export class CgroupError extends UpkeepError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export interface CgroupOptions {
  /** Directory under the daemon's own cgroup that holds every service cgroup. Default "upkeep". */
  parent?: string;
  /** Files read to find the hierarchies and our place in them (tests may pass copies). */
  mountinfo?: string;
  membership?: string;
}

interface Hierarchy {
  version: 1 | 2;
  /** The parent directory (absolute): mount point + our own cgroup + options.parent. */
  parent: string;
  /** Controllers usable for limits in this hierarchy. */
  controllers: string[];
}

export type CgroupSupport =
  | {
      available: true;
      kind: 'v2' | 'hybrid' | 'v1';
      /** One parent directory per hierarchy used. */
      parents: string[];
      limits: { memory: boolean; pids: boolean };
      /** cgroup.kill exists: SIGKILL of the whole cgroup in one atomic write. */
      killAll: boolean;
      /** cgroup.events exists: onEmpty is offered. */
      events: boolean;
      /** What is missing, for a warning at start ("memory limits: ..."). */
      notes: string[];
      hierarchies: Hierarchy[];
    }
  | { available: false; reason: string };

export interface ServiceLimits {
  /** Bytes. */
  memoryMax?: number;
  /** Processes and threads. */
  pidsMax?: number;
}

export interface ServiceCgroup {
  readonly service: string;
  /** The cgroup directories the program joins: pass as SpawnRequest.cgroup (one --cgroup each). */
  readonly dirs: string[];
  /** The cgroup.procs files behind `dirs`. */
  readonly procsFiles: string[];
  /** The one of `dirs` on the v2 hierarchy (pass as SpawnRequest.cgroupV2), if one is used. */
  readonly v2Dir?: string;
  /** Every process in the cgroup, whatever its process group or session. */
  pids(): number[];
  /** Signals every process; returns how many were signalled. */
  kill(signal?: NodeJS.Signals): number;
  /** Removes the directories; a cgroup that still has processes is a CgroupError. */
  remove(): void;
  /** Only where cgroup.events exists: calls cb once, when the cgroup is (or becomes) empty. */
  onEmpty?: (cb: () => void) => () => void;
}

/** Finds the hierarchies and makes the parent directory in each; never throws. */
export function detectCgroups(options: CgroupOptions = {}): CgroupSupport {
  const parentName = options.parent ?? 'upkeep';
  let mounts: Mount[];
  let membership: Membership[];
  try {
    mounts = readMounts(options.mountinfo ?? '/proc/self/mountinfo');
    membership = readMembership(options.membership ?? '/proc/self/cgroup');
  } catch (err) {
    return { available: false, reason: `cannot read the cgroup mounts (${errnoOf(err)})` };
  }
  const placed = membership.flatMap((m) => {
    const mount = mounts.find((mt) =>
      m.controllers.length === 0
        ? mt.version === 2
        : mt.version === 1 && m.controllers.every((c) => mt.options.includes(c)),
    );
    if (mount === undefined) return [];
    // Our path is relative to the hierarchy's root; the mount may show only a subtree of it.
    const inside = mount.root === '' || m.path === mount.root || m.path.startsWith(`${mount.root}/`);
    const own = inside ? m.path.slice(mount.root.length) : '';
    const parent = path.join(mount.point, own, parentName);
    return [{ version: mount.version, controllers: m.controllers, parent }];
  });
  if (placed.length === 0) return { available: false, reason: 'no cgroup filesystem is mounted for this process' };
  const notes: string[] = [];
  const hierarchies: Hierarchy[] = [];
  const v2 = placed.find((p) => p.version === 2);
  if (v2 !== undefined) {
    const problem = makeDir(v2.parent);
    if (problem !== undefined) return { available: false, reason: problem };
    hierarchies.push({ version: 2, parent: v2.parent, controllers: enableControllers(v2.parent, ['memory', 'pids']) });
  }
  // v1 controller hierarchies fill in the limits v2 cannot give (hybrid), or are all there is.
  for (const name of ['memory', 'pids']) {
    const h = placed.find((p) => p.version === 1 && p.controllers.includes(name));
    if (h === undefined || hierarchies.some((x) => x.controllers.includes(name))) continue;
    const problem = makeDir(h.parent);
    if (problem === undefined) hierarchies.push({ version: 1, parent: h.parent, controllers: [name] });
    else notes.push(problem);
  }
  if (hierarchies.length === 0) {
    // v1 without memory or pids (e.g. only name=systemd): still good for finding processes.
    const problems = placed.map((p) => ({ p, problem: makeDir(p.parent) }));
    const usable = problems.find((x) => x.problem === undefined);
    if (usable === undefined) return { available: false, reason: problems[0]!.problem! };
    hierarchies.push({ version: 1, parent: usable.p.parent, controllers: [] });
  }
  const has = (c: string) => hierarchies.some((h) => h.controllers.includes(c));
  const tracking = hierarchies[0]!;
  const events = tracking.version === 2 && fs.existsSync(path.join(tracking.parent, 'cgroup.events'));
  const killAll = tracking.version === 2 && fs.existsSync(path.join(tracking.parent, 'cgroup.kill'));
  for (const c of ['memory', 'pids']) {
    if (!has(c)) notes.push(`${c} limits cannot be enforced: no ${c} controller is available to ${tracking.parent}`);
  }
  if (!events) notes.push('the end of a service is not an event (no cgroup.events): cgroup v2 is not mounted');
  if (!killAll) notes.push('no cgroup.kill (needs cgroup v2, Linux 5.14+): kill signals each process in turn');
  return {
    available: true,
    kind: v2 === undefined ? 'v1' : hierarchies.length > 1 ? 'hybrid' : 'v2',
    parents: hierarchies.map((h) => h.parent),
    limits: { memory: has('memory'), pids: has('pids') },
    killAll,
    events,
    notes,
    hierarchies,
  };
}

type Available = Extract<CgroupSupport, { available: true }>;

/** Makes (or reuses) the service's cgroup in every hierarchy and applies the limits. */
export function createServiceCgroup(support: Available, service: string, limits: ServiceLimits = {}): ServiceCgroup {
  for (const [key, controller] of [['memoryMax', 'memory'], ['pidsMax', 'pids']] as const) {
    if (limits[key] !== undefined && !support.limits[controller]) {
      throw new CgroupError('cgroup-limit-unavailable', `${service}: ${key} cannot be enforced on this machine`, {
        hint: support.notes.find((n) => n.startsWith(controller)) ?? `no ${controller} controller`,
      });
    }
  }
  const relative = serviceDirs(service);
  // Join only what is needed: the v2 hierarchy (it tracks the service: cgroup.kill, events) and
  // a v1 hierarchy only for a limit it enforces. Every hierarchy joined is a write in the exec
  // shim and a directory per service, on every start and stop. On a v1-only machine without
  // limits, the first hierarchy tracks the service.
  const limitOf = (c: string) => (c === 'memory' ? limits.memoryMax : limits.pidsMax);
  let used = support.hierarchies.filter((h) => h.version === 2 || h.controllers.some((c) => limitOf(c) !== undefined));
  if (used.length === 0) used = support.hierarchies.slice(0, 1);
  used = [...used].sort((a, b) => b.version - a.version);
  const dirs = used.map((h) => {
    let dir = h.parent;
    for (const segment of relative) {
      dir = path.join(dir, segment);
      const problem = makeDir(dir);
      if (problem !== undefined) throw new CgroupError('cgroup-create-failed', `${service}: ${problem}`);
      // v2 hands a controller down one level at a time: a tenant directory must pass it on.
      if (h.version === 2 && segment !== relative.at(-1)) enableControllers(dir, h.controllers);
    }
    for (const c of h.controllers) {
      const value = c === 'memory' ? limits.memoryMax : limits.pidsMax;
      const [file, unlimited] =
        c === 'pids' ? ['pids.max', 'max'] : h.version === 2 ? ['memory.max', 'max'] : ['memory.limit_in_bytes', '-1'];
      writeControl(service, path.join(dir, file), value === undefined ? unlimited : String(value));
    }
    return dir;
  });
  return serviceHandle(service, dirs, support, used);
}

/** Removes the parent directories (empty ones only); for tests and a clean daemon shutdown. */
export function removeCgroupParent(support: Available): void {
  for (const h of support.hierarchies) removeTree(h.parent);
}

function serviceHandle(service: string, dirs: string[], support: Available, used: readonly Hierarchy[]): ServiceCgroup {
  const procsFiles = dirs.map((d) => path.join(d, 'cgroup.procs'));
  const tracking = dirs[0]!;
  // One hierarchy is enough to list the service: the shim joins every hierarchy before exec and
  // children inherit all of them, so the lists only differ for a process that moved itself to
  // another cgroup (which needs root). Reading one file instead of three matters: this runs on
  // every exit and every stop signal.
  const trackingProcs = procsFiles[0]!;
  const pids = (): number[] => readPids(trackingProcs).sort((a, b) => a - b);
  const watchers = new Set<fs.FSWatcher>();
  const v2 = used.findIndex((h) => h.version === 2);
  const handle: ServiceCgroup = {
    service,
    dirs,
    procsFiles,
    ...(v2 >= 0 ? { v2Dir: dirs[v2]! } : {}),
    pids,
    kill(signal: NodeJS.Signals = 'SIGTERM'): number {
      if (signal === 'SIGKILL' && support.killAll) {
        const before = pids();
        if (before.length === 0) return 0; // also after remove(): nothing to signal
        writeControl(service, path.join(tracking, 'cgroup.kill'), '1');
        return before.length;
      }
      // Without cgroup.kill a process may fork between reading the list and the signal; for
      // SIGKILL go round until nothing new shows up (a few rounds: fork bombs need pids_max).
      const signalled = new Set<number>();
      for (let round = 0; round < (signal === 'SIGKILL' ? 5 : 1); round++) {
        const fresh = pids().filter((pid) => !signalled.has(pid));
        if (fresh.length === 0) break;
        for (const pid of fresh) {
          signalled.add(pid);
          try {
            process.kill(pid, signal);
          } catch {
            // ESRCH: gone since the list was read.
          }
        }
      }
      return signalled.size;
    },
    remove(): void {
      const left = pids();
      if (left.length > 0) {
        throw new CgroupError('cgroup-busy', `${service}: cgroup still has processes ${left.join(', ')}`, {
          hint: 'kill them first (kill("SIGKILL")), then remove',
        });
      }
      for (const w of watchers) w.close();
      watchers.clear();
      for (const [i, h] of used.entries()) {
        removeDir(service, dirs[i]!);
        // Tenant directories go when their last service goes.
        for (let dir = path.dirname(dirs[i]!); dir.startsWith(h.parent + path.sep); dir = path.dirname(dir)) {
          if (!tryRmdir(dir)) break;
        }
      }
    },
  };
  if (support.events) {
    handle.onEmpty = (cb) => {
      const file = path.join(tracking, 'cgroup.events');
      let done = false;
      const stop = () => {
        done = true;
        watcher.close();
        watchers.delete(watcher);
      };
      const check = () => {
        if (done || !/^populated 0$/m.test(readOr(file, 'populated 1'))) return;
        stop();
        cb();
      };
      // The kernel signals a change of cgroup.events as a file modification (inotify).
      const watcher = fs.watch(file, check);
      // A watch that fails (the cgroup removed under it) only loses this early notice: the
      // service's main process still reports its exit.
      watcher.on('error', stop);
      watchers.add(watcher);
      queueMicrotask(check); // already empty: say so at once
      return stop;
    };
  }
  return handle;
}

/**
 * "tenant/name" → ["tenant.tenant", "name.service"]. Every byte outside [A-Za-z0-9_@.-] and a
 * leading "." become %XX, so no name is "." or "..", none contains "/", and the suffixes keep
 * them apart from control files ("cgroup.procs", "memory.max") and tenants apart from services.
 */
export function serviceDirs(service: string): string[] {
  const segments = service.split('/');
  if (segments.some((s) => s === '')) {
    throw new CgroupError('cgroup-bad-name', `service name "${service}" has an empty part between slashes`);
  }
  const names = segments.map((s, i) => `${escape(s)}.${i === segments.length - 1 ? 'service' : 'tenant'}`);
  const tooLong = names.find((n) => Buffer.byteLength(n) > 255);
  if (tooLong !== undefined) {
    throw new CgroupError('cgroup-bad-name', `service name "${service}" is too long for a cgroup directory`);
  }
  return names;
}

function escape(segment: string): string {
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const ch = String.fromCharCode(byte);
    const plain = /[A-Za-z0-9_@.-]/.test(ch) && !(ch === '.' && out === '');
    out += plain ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

interface Mount {
  version: 1 | 2;
  root: string;
  point: string;
  options: string[];
}

interface Membership {
  controllers: string[];
  path: string;
}

/** /proc/self/mountinfo: "id parent maj:min root point opts [tags] - fstype source superopts". */
function readMounts(file: string): Mount[] {
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line): Mount[] => {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) return [];
    const fields = left.split(' ');
    const [fstype, , superOptions = ''] = right.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') return [];
    // Spaces and the like appear as octal escapes ("\040").
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    return [
      {
        version: fstype === 'cgroup2' ? 2 : 1,
        root: unescape(fields[3] ?? '/').replace(/\/$/, ''), // "" for the hierarchy's root
        point: unescape(fields[4] ?? ''),
        options: superOptions.split(','),
      },
    ];
  });
}

/** /proc/self/cgroup: "id:controllers:path"; v2 is the line with no controllers. */
function readMembership(file: string): Membership[] {
  return fs.readFileSync(file, 'utf8').split('\n').flatMap((line): Membership[] => {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (match === null) return [];
    return [{ controllers: match[1] === '' ? [] : match[1]!.split(','), path: match[2]! }];
  });
}

/** Asks for each controller in dir's subtree; returns those that were handed down. */
function enableControllers(dir: string, wanted: string[]): string[] {
  const available = readOr(path.join(dir, 'cgroup.controllers'), '').split(/\s+/);
  return wanted.filter((c) => {
    if (!available.includes(c)) return false;
    try {
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), `+${c}`);
      return true;
    } catch {
      return false; // EBUSY: dir has processes of its own (v2's "no internal processes" rule)
    }
  });
}

function makeDir(dir: string): string | undefined {
  try {
    // Not mkdirSync({recursive: true}): Node retries forever when mkdir says ENOENT under an
    // existing parent (as in /proc), and a detection must never hang the daemon.
    const missing: string[] = [];
    for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) missing.unshift(d);
    for (const d of missing) fs.mkdirSync(d);
    return undefined;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'EROFS') return `cannot create cgroup ${dir}: read-only (a container without cgroup delegation?)`;
    if (errno === 'EACCES' || errno === 'EPERM') {
      return `cannot create cgroup ${dir}: ${errno} (needs root or a delegated cgroup)`;
    }
    return `cannot create cgroup ${dir}: ${errno}`;
  }
}

function writeControl(service: string, file: string, value: string): void {
  try {
    fs.writeFileSync(file, value);
  } catch (err) {
    const message = `${service}: cannot write "${value}" to ${file} (${errnoOf(err)})`;
    throw new CgroupError('cgroup-write-failed', message, { cause: err });
  }
}

function readPids(file: string): number[] {
  return readOr(file, '').split('\n').filter((l) => l !== '').map(Number);
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

function removeDir(service: string, dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw new CgroupError('cgroup-remove-failed', `${service}: cannot remove ${dir} (${errnoOf(err)})`, { cause: err });
  }
}

function tryRmdir(dir: string): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch {
    return false; // still holds other services (ENOTEMPTY/EBUSY)
  }
}

/** Depth first; cgroup directories can only be rmdir'ed, their control files never unlinked. */
function removeTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeTree(path.join(dir, e.name));
  tryRmdir(dir);
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
}
