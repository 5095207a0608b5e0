/**
 * Wiring of one daemon: store, config, recovery, supervisor, control socket, signals. This is the
 * only place that constructs the dependencies; everything else gets them passed in. Used by
 * `upkeep daemon` (foreground) and `upkeep up DIR` (with a live view), and by the tests.
 */
import { basename, join } from 'node:path';
import { loadConfigDir } from '../config/load.js';
import { UpkeepError } from '../errors.js';
import type { ServiceSpec } from '../config/spec.js';
import { listen, type ControlServer } from '../api/server.js';
import { makeHandler, type ReloadOutcome } from '../api/handlers.js';
import { bootId, groupAlive, groupMembers, isSameProcess, readProcStat, readStartTime } from '../process/identity.js';
import { runProbe } from '../probes/probe.js';
import { notifyAvailable, NotifySocket } from '../probes/notify-socket.js';
import { signalGroup } from '../process/kill-tree.js';
import { LogWriter } from '../process/log-writer.js';
import { NodeSpawner } from '../process/node-spawner.js';
import { peerCredentials } from '../process/peercred.js';
import type { Spawner } from '../process/spawner.js';
import { openStore } from '../store/open.js';
import type { EventRecord, Store } from '../store/types.js';
import { systemClock, type Clock } from '../supervisor/clock.js';
import { recoverLeftovers } from '../supervisor/recover.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { notYetWarning } from './not-yet.js';

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
}

export interface Daemon {
  readonly supervisor: Supervisor;
  readonly store: Store;
  readonly socketPath: string;
  readonly configDir: string;
  reload(): ReloadOutcome;
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

  const loaded = loadConfigDir(options.configDir);
  for (const err of loaded.errors) say(err.message);
  for (const spec of loaded.specs.values()) {
    const warning = notYetWarning(spec);
    if (warning !== undefined) say(warning);
  }

  const baseEnv = serviceBaseEnv();
  const supervisor = new Supervisor({
    store,
    bootId: boot,
    readStartTime,
    spawner: options.spawner ?? new NodeSpawner(),
    clock,
    random: Math.random,
    baseEnv,
    openLog: (spec: ServiceSpec) => new LogWriter(join(logDir, `${spec.name}.log`), spec.log),
    groupAlive,
    signalGroup: (pgid, signal) => void signalGroup(pgid, signal),
    pgidOf: (pid) => readProcStat(pid)?.pgrp,
    openNotify: notifyAvailable()
      ? (service, onMessage) => NotifySocket.open(join(options.stateDir, 'notify', `${service}.sock`), onMessage)
      : undefined,
    probe: (spec) =>
      runProbe(spec.health as NonNullable<ServiceSpec['health']>, () => ({
        env: { ...baseEnv, ...spec.environment },
        directory: spec.directory,
      })),
  });

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
  supervisor.boot(loaded.specs, newBoot);

  const startedAt = clock.now();
  const reload = (): ReloadOutcome => {
    const next = loadConfigDir(options.configDir);
    const broken = new Set(next.errors.map((e) => basename(e.file, '.toml')));
    const diff = supervisor.reload(next.specs, broken);
    for (const err of next.errors) say(`reload: ${err.message}`);
    return {
      added: diff.added.map((s) => s.name),
      removed: diff.removed,
      changed: diff.changed.map((s) => s.name),
      unchanged: diff.unchanged,
      errors: next.errors.map((e) => e.toJSON()),
    };
  };

  let server: ControlServer;
  try {
    server = await listen({
      socketPath: options.socketPath,
      peerCredentials,
      handler: makeHandler({
        supervisor,
        reload,
        logPath: (service) => join(logDir, `${service}.log`),
        daemonInfo: () => ({
          version: VERSION,
          pid: process.pid,
          configDir: options.configDir,
          stateDir: options.stateDir,
          socket: options.socketPath,
          store: store.mode,
          storeProblem: store.problem,
          startedAt: new Date(startedAt).toISOString(),
        }),
      }),
      onError: (err) => say(`control socket: ${err.message}`),
    });
  } catch (err) {
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
    reload,
    stop(signal?: string) {
      stopping ??= (async () => {
        await server.close();
        await supervisor.shutdown(signal);
        unsubscribe();
        store.close();
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

/** The environment services start from: the daemon's, minus what only concerns the daemon. */
function serviceBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'UPKEEP_SOCKET' || k === 'NOTIFY_SOCKET' || k.startsWith('LISTEN_')) continue;
    env[k] = v;
  }
  return env;
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
