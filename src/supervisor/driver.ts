/**
 * The driver of one service: feeds events into the pure machine and runs the effects it returns
 * (spawn, signal, timers, record). It owns the service's timers, its child process and its log.
 *
 * Invariants:
 * - `dispatch` is not re-entrant: events raised while effects run are queued and handled in
 *   order after the current step, so every step sees a consistent state.
 * - Each timer name has at most one live timer; arming replaces, cancelling is idempotent.
 * - The record effect goes to `commit`, the one writer of state changes (see supervisor.ts).
 */
import type { ServiceSpec } from '../config/spec.js';
import { serviceEnv, spawnRequest } from './launch.js';
import { ServiceResources, type ServiceCgroupHandle, type ServiceSockets } from './resources.js';

export type { ServiceCgroupHandle, ServiceSockets } from './resources.js';
import type { Spawner } from '../process/spawner.js';
import type { PublicState } from '../store/types.js';
import type { Cause } from './causes.js';
import type { Clock, TimerHandle } from './clock.js';
import {
  initialState,
  PUBLIC_STATE,
  step,
  type Effect,
  type MachineEvent,
  type ServiceState,
  type TimerName,
} from './machine.js';

export interface ServiceLog {
  write(stream: 'out' | 'err', chunk: Buffer): void;
  note(text: string): void;
  close(): void;
}

/** What a runner needs from the rest of the daemon: passed in, never reached for. */
export interface DriverDeps {
  spawner: Spawner;
  clock: Clock;
  random: () => number;
  commit(service: string, from: PublicState, to: PublicState, cause: Cause, detail?: Record<string, unknown>): void;
  /** The environment every service starts from (the spec's environment is laid over it). */
  baseEnv: Record<string, string>;
  openLog(spec: ServiceSpec): ServiceLog;
  /** Called with the pid right after a spawn, and with null once the process group is gone. */
  trackInstance(service: string, pid: number | null): void;
  groupAlive(pgid: number): boolean;
  /** Sends a signal to a whole process group (kill-tree.ts in the daemon). */
  signalGroup(pgid: number, signal: string): void;
  /**
   * Opens the service's own sd_notify socket (probes/notify-socket.ts in the daemon); messages
   * come with the sender's pid when the kernel tells it. Undefined: no notify support.
   */
  openNotify?(service: string, onMessage: (msg: NotifyFields, senderPid: number | undefined) => void): { path: string; close(): void } | undefined;
  /** The process group of a pid (to check that a notify sender belongs to the service). */
  pgidOf?(pid: number): number | undefined;
  /** Runs one health probe of the service (probes/probe.ts in the daemon). */
  probe?(spec: ServiceSpec): Promise<{ ok: boolean; output: string; latencyMs: number }>;
  /** Listeners for live output (logs -f). */
  onOutput?(service: string, stream: 'out' | 'err', chunk: Buffer): void;
  /**
   * Opens the listening sockets of a service with [socket] (process/listen-sockets.ts in the
   * daemon). Throws an error with an errno `code` when an address cannot be bound.
   */
  openListeners?(spec: ServiceSpec): ServiceSockets;
  /** The service's cgroup (process/cgroups.ts in the daemon), or undefined where there is none. */
  openCgroup?(spec: ServiceSpec): ServiceCgroupHandle | undefined;
}

/** What the driver acts on in an sd_notify message (see probes/notify-socket.ts). */
export interface NotifyFields {
  ready?: true;
  status?: string;
  watchdog?: 'ping' | 'trigger';
  extendTimeoutUsec?: number;
  stopping?: true;
  reloading?: true;
  errno?: number;
}

/** Granularity of health-probe times (see setProbes). */
const PROBE_SLOT_MS = 100;

/** Check intervals for a group whose leader exited but whose members linger (no event exists). */
const GROUP_CHECK_MS = [5, 10, 20, 50, 100, 200, 500];

export class ServiceRunner {
  spec: ServiceSpec;
  state: ServiceState;
  private readonly deps: DriverDeps;
  private readonly timers = new Map<TimerName, TimerHandle>();
  private groupCheck: TimerHandle | null = null;
  private queue: MachineEvent[] = [];
  private busy = false;
  private log: ServiceLog | null = null;
  /** Bumped on every spawn so callbacks of an old child never act on a newer one. */
  private generation = 0;
  private idleWaiters: (() => void)[] = [];
  private probeTimer: TimerHandle | null = null;
  private notify: { path: string; close(): void } | undefined | null = null;
  private probeRound = 0;
  private readonly resources: ServiceResources;
  /** The last sd_notify STATUS= text of the service. */
  notifyStatus: string | null = null;
  /** The last sd_notify ERRNO= of the current run. */
  notifyErrno: number | null = null;
  /** Latency of the last health probe, for status. */
  lastLatencyMs: number | null = null;

  constructor(spec: ServiceSpec, deps: DriverDeps) {
    this.spec = spec;
    this.deps = deps;
    this.state = initialState(deps.clock.now());
    this.resources = new ServiceResources(() => this.spec, deps, (text) => this.openLog().note(text));
  }

  get name(): string {
    return this.spec.name;
  }

  get publicState(): PublicState {
    return PUBLIC_STATE[this.state.phase];
  }

  /** True when no process of this service exists and none is being started. */
  get idle(): boolean {
    const p = this.state.phase;
    return p === 'stopped' || p === 'failed' || p === 'backoff';
  }

  dispatch(event: MachineEvent): void {
    this.queue.push(event);
    if (this.busy) return;
    this.busy = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        const result = step(this.state, next, { spec: this.spec, now: this.deps.clock.now(), random: this.deps.random });
        this.state = result.state;
        for (const effect of result.effects) this.run(effect);
      }
    } finally {
      this.busy = false;
    }
    if (this.idle && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves once no process of this service is left (stopped, failed or backing off). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Releases the log file; call once the runner is idle and being dropped. */
  dispose(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.groupCheck?.cancel();
    this.setProbes(false);
    this.notify?.close();
    this.notify = null;
    this.resources.dispose();
    this.log?.close();
    this.log = null;
  }

  /** Socket activation, lazy: see ServiceResources.armActivation. */
  armActivation(onConnection: () => void): boolean {
    return this.resources.armActivation(onConnection);
  }

  get awaitingConnection(): boolean {
    return this.resources.awaitingConnection;
  }

  closeSockets(): void {
    this.resources.closeSockets();
  }

  /** The process group, or anything left in the service's cgroup (processes that left the group). */
  private groupAlive(pgid: number): boolean {
    return this.deps.groupAlive(pgid) || this.resources.cgroupHasProcesses();
  }

  private run(effect: Effect): void {
    switch (effect.type) {
      case 'spawn':
        this.spawn();
        return;
      case 'signal':
        if (this.state.pid !== null) {
          this.signal(this.state.pid, effect.signal);
          // As systemd does: a stopped (SIGSTOP) process cannot act on SIGTERM or SIGABRT until
          // it is continued, and a hung-by-SIGSTOP service is exactly what the watchdog catches.
          if (effect.signal !== 'SIGKILL') this.signal(this.state.pid, 'SIGCONT');
        }
        return;
      case 'awaitGroupEmpty':
        this.watchGroup(0);
        return;
      case 'armTimer': {
        this.timers.get(effect.timer)?.cancel();
        const timer = effect.timer;
        this.timers.set(
          timer,
          this.deps.clock.after(effect.ms, () => {
            this.timers.delete(timer);
            this.dispatch({ type: 'timerFired', timer });
          }),
        );
        return;
      }
      case 'cancelTimer':
        this.timers.get(effect.timer)?.cancel();
        this.timers.delete(effect.timer);
        return;
      case 'probes':
        this.setProbes(effect.on);
        return;
      case 'record':
        this.deps.commit(this.name, effect.from, effect.to, effect.cause, {
          ...effect.detail,
          pid: this.state.pid ?? undefined,
          restarts: this.state.restarts,
          errno: effect.to === 'running' ? undefined : (this.notifyErrno ?? undefined),
        });
        this.noteChange(effect.to, effect.cause);
        return;
      default: {
        const unreachable: never = effect;
        throw new Error(`unknown effect ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private spawn(): void {
    const generation = ++this.generation;
    this.notifyStatus = null;
    this.notifyErrno = null;
    const spec = this.spec;
    const log = this.openLog();
    const current = () => generation === this.generation;
    let sockets: ServiceSockets | undefined;
    try {
      sockets = this.resources.socketsForRun();
    } catch (err) {
      // ListenError carries the errno apart from its own code; plain errors carry it as code.
      const e = err as Error & { code?: string; errno?: unknown };
      const errno = typeof e.errno === 'string' ? e.errno : (e.code ?? 'EUNKNOWN');
      log.note(`could not start: ${e.message}`);
      this.dispatch({ type: 'spawnFailed', errno, message: e.message });
      return;
    }
    const cgroup = this.resources.cgroup();
    const extras = {
      notifyPath: this.openNotify(),
      sockets: sockets === undefined ? undefined : { fds: sockets.fds, names: spec.socket?.names ?? [] },
      cgroup: cgroup?.dirs,
      cgroupV2: cgroup?.v2Dir,
    };
    this.deps.spawner.spawn(
      spawnRequest(spec, serviceEnv(spec, this.deps.baseEnv, extras), extras),
      {
        done: (outcome) => {
          if (!current()) return;
          if (outcome.ok) {
            this.deps.trackInstance(this.name, outcome.pid);
            log.note(`started pid ${outcome.pid}: ${spec.command.join(' ')}`);
            this.dispatch({ type: 'spawned', pid: outcome.pid });
          } else {
            log.note(`could not start: ${outcome.message} (${outcome.errno})`);
            this.dispatch({ type: 'spawnFailed', errno: outcome.errno, message: outcome.message });
          }
        },
        onOutput: (stream, chunk) => {
          log.write(stream, chunk);
          this.deps.onOutput?.(this.name, stream, chunk);
        },
        onExit: (code, signal) => {
          if (!current()) return;
          const pid = this.state.pid;
          const groupAlive = pid !== null && this.groupAlive(pid);
          if (!groupAlive) this.deps.trackInstance(this.name, null);
          log.note(signal === null ? `pid ${pid} exited with code ${code}` : `pid ${pid} killed by ${signal}`);
          this.dispatch({ type: 'exited', code, signal, groupAlive });
        },
      },
    );
  }

  /** One socket per service, kept across its restarts: a datagram on it can only be about it. */
  private openNotify(): string | undefined {
    if (this.notify === null) {
      try {
        this.notify = this.deps.openNotify?.(this.name, (msg, senderPid) => this.onNotify(msg, senderPid));
      } catch (err) {
        this.openLog().note(`cannot open the notify socket: ${(err as Error).message}`);
        this.notify = undefined;
      }
    }
    return this.notify?.path;
  }

  private onNotify(msg: NotifyFields, senderPid: number | undefined): void {
    const pid = this.state.pid;
    if (pid === null) return;
    // Only the service's own processes speak for it (a leftover or a stranger does not).
    // A sender the kernel gave no credentials for (another pid namespace) is dropped, as systemd does.
    if (senderPid === undefined || (senderPid !== pid && this.deps.pgidOf?.(senderPid) !== pid)) {
      this.openLog().note(`ignored a notify message from ${senderPid === undefined ? 'an unknown sender' : `pid ${senderPid}`}, not of this service`);
      return;
    }
    if (msg.status !== undefined) this.notifyStatus = msg.status;
    // The service's own account of a failure (systemd shows it as the unit's errno): kept with the
    // next recorded change, so `why` can show it next to the exit.
    if (msg.errno !== undefined) this.notifyErrno = msg.errno;
    if (msg.stopping === true) this.openLog().note('the service reports STOPPING=1');
    if (msg.reloading === true) this.openLog().note('the service reports RELOADING=1');
    if (msg.extendTimeoutUsec !== undefined) this.dispatch({ type: 'timeoutExtended', ms: Math.ceil(msg.extendTimeoutUsec / 1000) });
    if (msg.watchdog === 'ping') this.dispatch({ type: 'watchdogPinged' });
    if (msg.ready === true) this.dispatch({ type: 'readyNotified' });
    if (msg.watchdog === 'trigger') this.dispatch({ type: 'watchdogTriggered' });
  }

  private signal(pgid: number, signal: string): void {
    try {
      this.deps.signalGroup(pgid, signal);
      // Processes that left the group (setsid) are still in the cgroup: they get it too.
      this.resources.signalCgroup(signal as NodeJS.Signals, pgid, this.deps.pgidOf);
    } catch (err) {
      // EPERM: the group now belongs to someone else; nothing more we can do than say so.
      this.openLog().note(`cannot send ${signal} to process group ${pgid}: ${(err as Error).message}`);
    }
  }

  /** No kernel event tells that a process group emptied; check at growing intervals. */
  private watchGroup(round: number): void {
    this.groupCheck?.cancel();
    const pid = this.state.pid;
    if (pid === null) return;
    const ms = GROUP_CHECK_MS[Math.min(round, GROUP_CHECK_MS.length - 1)] as number;
    this.groupCheck = this.deps.clock.after(ms, () => {
      this.groupCheck = null;
      if (this.state.pid !== pid) return;
      if (this.groupAlive(pid)) {
        this.watchGroup(round + 1);
        return;
      }
      this.deps.trackInstance(this.name, null);
      this.dispatch({ type: 'groupEmptied' });
    });
  }

  /**
   * Health probes: the first one at a random point of the first interval (a thousand services
   * must not probe in the same millisecond), then one interval after each result, so there is
   * never more than one probe of a service in flight. Results of a switched-off loop are dropped.
   */
  private setProbes(on: boolean): void {
    this.probeTimer?.cancel();
    this.probeTimer = null;
    const round = ++this.probeRound;
    const health = this.spec.health;
    if (!on || health === undefined || this.deps.probe === undefined) return;
    const probe = this.deps.probe;
    const schedule = (ms: number) => {
      // Probes fall on PROBE_SLOT_MS boundaries: a thousand services share a few wake-ups of the
      // event loop instead of a thousand, and are still spread over the whole interval.
      const now = this.deps.clock.now();
      const delay = Math.ceil((now + ms) / PROBE_SLOT_MS) * PROBE_SLOT_MS - now;
      this.probeTimer = this.deps.clock.after(delay, () => {
        this.probeTimer = null;
        void probe(this.spec).then((result) => {
          if (round !== this.probeRound) return;
          this.lastLatencyMs = result.latencyMs;
          this.dispatch({ type: 'probeResult', ok: result.ok, output: result.output });
          if (round === this.probeRound) schedule(health.intervalMs);
        });
      });
    };
    schedule(Math.floor(this.deps.random() * health.intervalMs));
  }

  private openLog(): ServiceLog {
    if (this.log === null) this.log = this.deps.openLog(this.spec);
    return this.log;
  }

  private noteChange(to: PublicState, cause: Cause): void {
    if (to === 'backoff' && this.state.nextAttemptAt !== null) {
      const inMs = this.state.nextAttemptAt - this.deps.clock.now();
      this.openLog().note(`backing off ${inMs}ms after ${cause.kind} (attempt ${this.state.attempt})`);
    }
  }
}
