/**
 * Wiring of one daemon: store, config, recovery, supervisor, control socket, signals. This is the
 * only place that constructs the dependencies; everything else gets them passed in. Used by
 * `upkeep daemon` (foreground) and `upkeep up DIR` (with a live view), and by the tests.
 */
import { chmodSync, lchownSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UpkeepError } from '../errors.js';
import type { RunAs, ServiceSpec } from '../config/spec.js';
import { listen, type ControlServer } from '../api/server.js';
import { makeHandler, type ReloadOutcome } from '../api/handlers.js';
import { ROOT_VIEW, tenantView, type View } from '../api/view.js';
import { createServiceCgroup, removeCgroupParent } from '../process/cgroups.js';
import { shimMissingWarning } from '../process/exec-shim.js';
import { listenAvailable } from '../process/listen-sockets.js';
import { readUserDatabase } from '../process/users.js';
import { cgroupSupport, daemonUser, openServiceSockets, serviceBaseEnv, toRunAs } from './service-os.js';
import { Catalog } from './catalog.js';
import { defaultDaemonConfig, type DaemonConfig } from './daemon-config.js';
import { bootId, groupAlive, groupMembers, isSameProcess, readProcStat, readStartTime } from '../process/identity.js';
import { runProbe } from '../probes/probe.js';
import { notifyAvailable, NotifySocket } from '../probes/notify-socket.js';
import { signalGroup } from '../process/kill-tree.js';
import { LogWriter } from '../process/log-writer.js';
import { NativeSpawner, nativeSpawnerAvailable } from '../process/native-spawner.js';
import { NodeSpawner } from '../process/node-spawner.js';
import { peerCredentials } from '../process/peercred.js';
import type { Spawner } from '../process/spawner.js';
import { openStore } from '../store/open.js';
import type { EventRecord, Store } from '../store/types.js';
import { systemClock, type Clock } from '../supervisor/clock.js';
import { recoverLeftovers } from '../supervisor/recover.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { serviceEnv } from '../supervisor/launch.js';

export interface DaemonOptions {
  configDir: string;
  stateDir: string;
  socketPath: string;
  /** Where the daemon says what it does (state changes, problems); stderr by default. */
  say?(line: string): void;
  /** Also `say` every state change (the foreground daemon's log); the live view draws its own. */
  echoEvents?: boolean;
  spawner?: Spawner;
  clock?: Clock;
  /** The daemon's own settings (--daemon-config): tenant folders, start concurrency, core group. */
  config?: DaemonConfig;
  /** Bring up only this group at start (`upkeep daemon --only core`); the rest is held. */
  only?: string;
  /** Per-service cgroups (default: where the machine allows). */
  cgroups?: boolean;
}

export interface Daemon {
  readonly supervisor: Supervisor;
  readonly store: Store;
  readonly socketPath: string;
  readonly configDir: string;
  /** Tenant control sockets by tenant name. */
  readonly tenantSockets: ReadonlyMap<string, string>;
  reload(tenant?: string): ReloadOutcome;
  /** Stops every service (cause shutdown) and closes the socket and the store. */
  stop(signal?: string): Promise<void>;
}

const VERSION = '0.1.0';

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const say = options.say ?? ((line: string) => process.stderr.write(`upkeep: ${line}\n`));
  const clock = options.clock ?? systemClock;
  // openStore creates the state folder, or falls back to safe mode when it cannot.
  const logDir = join(options.stateDir, 'logs');
  const store = openStore(options.stateDir);
  if (store.mode === 'safe') say(`WARNING: ${store.problem}`);

  const boot = bootId();
  claimStateDir(store, boot, options.stateDir);
  const newBoot = store.getMeta('boot_id') !== boot;
  store.setMeta('boot_id', boot);

  const config = options.config ?? defaultDaemonConfig();
  const catalog = new Catalog({
    configDir: options.configDir,
    tenantPatterns: config.tenants,
    users: () => {
      const db = readUserDatabase();
      return {
        load: {
          lookupUser: (name) => toRunAs(db.lookupUser(name)),
          lookupGroup: (name) => db.lookupGroup(name)?.gid,
          daemonUser: daemonUser(db),
        },
        userByUid: (uid) => toRunAs(db.userByUid(uid)),
      };
    },
    say,
  });
  const loaded = catalog.load(store.desiredEntries().map(([name]) => name));
  for (const err of loaded.errors) say(err.message);
  const tenants = catalog.tenants();
  // Tenants' processes must reach their notify sockets under the state folder: traverse only.
  if (tenants.length > 0) chmodSync(options.stateDir, 0o711);
  const shimWarning = shimMissingWarning();
  if (shimWarning !== undefined) say(`WARNING: ${shimWarning}`);
  const cgroups = options.cgroups === false ? undefined : cgroupSupport(options.stateDir, loaded.specs, say);
  const listenersOk = listenAvailable();

  const baseEnv = serviceBaseEnv();
  // posix_spawn with pidfd exits where the addon is built and the kernel has pidfds (5.3+):
  // no fork of the daemon's heap per start. Node's child_process otherwise.
  const native = options.spawner === undefined && nativeSpawnerAvailable();
  const spawner = options.spawner ?? (native ? new NativeSpawner() : new NodeSpawner());
  if (options.spawner === undefined && !native) say('spawning through Node (native/spawn not built, or no pidfd support): each start forks the daemon');
  const supervisor: Supervisor = new Supervisor({
    store,
    bootId: boot,
    readStartTime,
    spawner,
    clock,
    random: Math.random,
    baseEnv,
    maxConcurrentStarts: config.maxConcurrentStarts,
    coreGroup: config.coreGroup,
    openLog: (spec: ServiceSpec) => new LogWriter(join(logDir, `${spec.name}.log`), spec.log),
    groupAlive,
    signalGroup: (pgid, signal) => void signalGroup(pgid, signal),
    pgidOf: (pid) => readProcStat(pid)?.pgrp,
    openNotify: notifyAvailable()
      ? (service, onMessage) => {
          const path = join(options.stateDir, 'notify', `${service}.sock`);
          const socket = NotifySocket.open(path, onMessage);
          // The folder is root's alone, so the chown cannot be redirected by a planted link.
          const runAs = supervisor.spec(service)?.runAs;
          if (runAs !== undefined) lchownSync(path, runAs.uid, runAs.gid);
          return socket;
        }
      : undefined,
    openListeners: listenersOk ? (spec) => openServiceSockets(spec) : undefined,
    openCgroup:
      cgroups === undefined
        ? undefined
        : (spec) => createServiceCgroup(cgroups, spec.name, { memoryMax: spec.limits.memory, pidsMax: spec.limits.pids }),
    probe: (spec) =>
      runProbe(spec.health as NonNullable<ServiceSpec['health']>, () => ({
        // A tenant's check runs as the tenant, with the tenant's environment, never as root.
        env: serviceEnv(spec, baseEnv, {}),
        directory: spec.directory,
        ...(spec.runAs === undefined ? {} : { uid: spec.runAs.uid, gid: spec.runAs.gid }),
      })),
  });
  if (!listenersOk && [...loaded.specs.values()].some((s) => s.socket !== undefined)) {
    say('WARNING: the listen addon is not built (npm run build:native): [socket] services start without their sockets');
  }

  const recovered = await recoverLeftovers({
    store,
    bootId: boot,
    isSameProcess,
    groupMembers,
    readStartTime,
    signal: (pid, signal) => signalGroup(pid, signal),
    commit: (service, from, to, cause, detail) => supervisor.commit(service, from, to, cause, detail),
    stopPolicy: (service) => {
      const spec = loaded.specs.get(service);
      return { signal: spec?.stopSignal ?? 'SIGTERM', timeoutMs: spec?.stopTimeoutMs ?? 10_000 };
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => clock.now(),
  });
  if (recovered > 0) say(`stopped ${recovered} service(s) left running by a previous daemon`);

  const unsubscribe = options.echoEvents === false ? () => undefined : supervisor.subscribe((event) => say(formatEvent(event)));
  supervisor.boot(loaded.specs, newBoot, options.only);

  const startedAt = clock.now();
  const reload = (tenant?: string): ReloadOutcome => {
    const next = catalog.reload(supervisor.specs(), tenant);
    const diff = supervisor.reload(next.specs, next.broken);
    for (const err of next.errors) say(`reload: ${err.message}`);
    if (tenant === undefined) void syncTenantSockets();
    return {
      added: diff.added.map((s) => s.name),
      removed: diff.removed,
      changed: diff.changed.map((s) => s.name),
      unchanged: diff.unchanged,
      errors: next.errors.map((e) => e.toJSON()),
    };
  };

  const ensureService = (name: string): boolean => {
    const made = catalog.instantiate(name, supervisor.specs());
    if (made === undefined) return false;
    if ('errors' in made) throw made.errors[0]!;
    supervisor.addService(made.spec);
    return true;
  };
  const daemonInfo = (view: View, socket: string) => ({
    version: VERSION,
    pid: process.pid,
    socket,
    store: store.mode,
    storeProblem: store.problem,
    spawner: options.spawner !== undefined ? 'custom' : native ? 'native' : 'node',
    startedAt: new Date(startedAt).toISOString(),
    ...(view.tenant === undefined
      ? { configDir: options.configDir, stateDir: options.stateDir, tenants: tenants.length, maxConcurrentStarts: config.maxConcurrentStarts }
      : { tenant: view.tenant }),
  });
  const handlerFor = (view: View, socket: string) =>
    makeHandler({ supervisor, reload, ensureService, view, logPath: (service) => join(logDir, `${service}.log`), daemonInfo: () => daemonInfo(view, socket) });

  const servers: ControlServer[] = [];
  const tenantSockets = new Map<string, string>();
  const tenantServers = new Map<string, ControlServer>();
  const openTenantSocket = async (tenant: RunAs): Promise<void> => {
    const socketPath = join(dirname(options.socketPath), 'tenants', `${tenant.user}.sock`);
    const server = await listen({
      socketPath,
      peerCredentials,
      owner: { uid: tenant.uid, gid: tenant.gid },
      allowedUids: [tenant.uid, 0],
      handler: handlerFor(tenantView(tenant.user), socketPath),
      onError: (err) => say(`control socket of ${tenant.user}: ${err.message}`),
    });
    tenantServers.set(tenant.user, server);
    tenantSockets.set(tenant.user, socketPath);
  };
  /** After a reload: sockets for tenants that appeared, none for tenants whose folder went. */
  let syncing = Promise.resolve();
  const syncTenantSockets = (): Promise<void> =>
    (syncing = syncing.then(async () => {
      const now = new Map(catalog.tenants().map((t) => [t.user, t]));
      if (now.size > 0) chmodSync(options.stateDir, 0o711);
      for (const [user, server] of tenantServers) {
        if (now.has(user)) continue;
        tenantServers.delete(user);
        tenantSockets.delete(user);
        await server.close();
      }
      for (const [user, tenant] of now) {
        if (tenantServers.has(user)) continue;
        await openTenantSocket(tenant).catch((err: Error) => say(`control socket of ${user}: ${err.message}`));
      }
    }));
  try {
    servers.push(
      await listen({
        socketPath: options.socketPath,
        peerCredentials,
        handler: handlerFor(ROOT_VIEW, options.socketPath),
        onError: (err) => say(`control socket: ${err.message}`),
      }),
    );
    for (const tenant of tenants) await openTenantSocket(tenant);
  } catch (err) {
    await Promise.all([...servers, ...tenantServers.values()].map((s) => s.close()));
    await supervisor.shutdown();
    unsubscribe();
    store.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    supervisor,
    store,
    socketPath: options.socketPath,
    configDir: options.configDir,
    tenantSockets,
    reload,
    stop(signal?: string) {
      stopping ??= (async () => {
        await syncing;
        await Promise.all([...servers, ...tenantServers.values()].map((s) => s.close()));
        await supervisor.shutdown(signal);
        unsubscribe();
        store.close();
        if (cgroups !== undefined) {
          try {
            removeCgroupParent(cgroups);
          } catch {
            // A process that outlived SIGKILL (uninterruptible sleep) keeps its cgroup.
          }
        }
      })();
      return stopping;
    },
  };
}

/**
 * Two live daemons on one state folder would each start every service: refuse to be the second.
 * The claim is the daemon's pid with its start time (a reused pid does not count as alive).
 */
function claimStateDir(store: Store, boot: string, stateDir: string): void {
  const [pid, startTime, claimBoot] = (store.getMeta('daemon') ?? '').split(':');
  if (claimBoot === boot && Number(pid) !== process.pid && isSameProcess(Number(pid), Number(startTime))) {
    store.close();
    throw new UpkeepError('daemon-running', `another upkeep daemon (pid ${pid}) is already using the state folder ${stateDir}`, {
      hint: 'stop it first, or give this daemon its own --state',
    });
  }
  store.setMeta('daemon', `${process.pid}:${readStartTime(process.pid) ?? 0}:${boot}`);
}

export function formatEvent(event: EventRecord): string {
  const pid = typeof event.detail?.pid === 'number' ? ` pid ${event.detail.pid}` : '';
  return `${event.service}: ${event.from} -> ${event.to}${pid} (${causeSummary(event)})`;
}

function causeSummary(event: EventRecord): string {
  const c = event.cause;
  switch (c.kind) {
    case 'exit':
      return `exit code ${c.code}`;
    case 'signal':
      return `signal ${c.signal}`;
    case 'spawn-error':
      return `spawn-error ${c.errno}: ${c.message}`;
    case 'admin':
      return `admin ${c.command}${c.reason ? `: ${c.reason}` : ''}`;
    default:
      return c.kind;
  }
}
