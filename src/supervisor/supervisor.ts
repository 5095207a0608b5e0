/**
 * The set of supervised services: one ServiceRunner each, the durable desired state, and
 * `commit`, the single writer of state changes. Every change goes through `commit`, which
 * appends it to the store's event log and hands it to subscribers (events --follow, the live
 * view); `status`, `why` and `events` all read what commit wrote.
 *
 * Desired state (running/stopped, enabled/disabled) is admin intent and is persisted on every
 * admin command; actual state is what the runners observe. Daemon shutdown stops every service
 * but does not touch the desired state, so the next daemon brings back what was running.
 */
import type { ServiceSpec } from '../config/spec.js';
import { UpkeepError } from '../errors.js';
import type { DesiredRecord, EventRecord, PublicState, Store } from '../store/types.js';
import type { Cause } from './causes.js';
import { unmetDependencies } from './dependencies.js';
import { statusEntry } from './status-entry.js';
import { ServiceRunner, type DriverDeps } from './driver.js';
import type { MachineEvent } from './machine.js';
import { diffSpecs, type SpecDiff } from './reconcile.js';
import { StartScheduler } from './scheduler.js';

export type SupervisorDeps = Omit<DriverDeps, 'commit' | 'trackInstance'> & {
  store: Store;
  bootId: string;
  readStartTime(pid: number): number | undefined;
  /** Bound on starts in flight (see scheduler.ts). */
  maxConcurrentStarts?: number;
  /** The daemon's own services in this group start before everything else. */
  coreGroup?: string;
};

export const DEFAULT_CORE_GROUP = 'core';

import type { StatusEntry } from './status-entry.js';

export type { StatusEntry } from './status-entry.js';

type StartEvent = Extract<MachineEvent, { type: 'startRequested' }>;

const DEFAULT_DESIRED: DesiredRecord = { state: 'running', enabled: true, updatedAt: 0 };

export class Supervisor {
  private readonly runners = new Map<string, ServiceRunner>();
  /** Services whose file is gone: stopped, then dropped once idle. */
  private readonly leaving = new Set<string>();
  private readonly listeners = new Set<(event: EventRecord) => void>();
  private readonly outputListeners = new Set<(service: string, stream: 'out' | 'err', chunk: Buffer) => void>();
  private readonly starts: StartScheduler;
  /** The start event of each queued service, used when its turn comes. */
  private readonly queuedStarts = new Map<string, StartEvent>();
  /** Services kept back by `--only GROUP` at daemon start. */
  private readonly held = new Set<string>();
  private readonly driverDeps: DriverDeps;
  private shuttingDown = false;
  private readonly desiredCache = new Map<string, DesiredRecord>();
  /** Starts held back by `after` until those services are ready. */
  private readonly deferred = new Map<string, StartEvent>();

  constructor(private readonly deps: SupervisorDeps) {
    this.starts = new StartScheduler({
      maxConcurrent: deps.maxConcurrentStarts ?? 8,
      launch: (name) => this.launch(name),
    });
    this.driverDeps = {
      ...deps,
      commit: (service, from, to, cause, detail) => this.commit(service, from, to, cause, detail),
      trackInstance: (service, pid) => this.trackInstance(service, pid),
      onOutput: (service, stream, chunk) => {
        for (const l of this.outputListeners) l(service, stream, chunk);
      },
    };
  }

  get store(): Store {
    return this.deps.store;
  }

  /** The one writer of state changes. */
  commit(service: string, from: PublicState, to: PublicState, cause: Cause, detail?: Record<string, unknown>): EventRecord {
    const clean = detail === undefined ? undefined : dropUndefined(detail);
    const event = this.deps.store.appendEvent({ time: this.deps.clock.now(), service, from, to, cause, detail: clean });
    if (from === 'starting' && to !== 'starting') this.starts.release(service);
    for (const listener of this.listeners) listener(event);
    if (to === 'running' && this.deferred.size > 0) this.releaseDeferred();
    if ((to === 'stopped' || to === 'failed') && from !== to && !this.shuttingDown) this.stopDependents(service);
    return event;
  }

  subscribe(listener: (event: EventRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribeOutput(listener: (service: string, stream: 'out' | 'err', chunk: Buffer) => void): () => void {
    this.outputListeners.add(listener);
    return () => this.outputListeners.delete(listener);
  }

  has(name: string): boolean {
    return this.runners.has(name);
  }

  names(): string[] {
    return [...this.runners.keys()].sort();
  }

  spec(name: string): ServiceSpec | undefined {
    return this.runners.get(name)?.spec;
  }

  specs(): Map<string, ServiceSpec> {
    return new Map([...this.runners].map(([name, runner]) => [name, runner.spec]));
  }

  desired(name: string): DesiredRecord {
    let desired = this.desiredCache.get(name);
    if (desired === undefined) {
      desired = this.deps.store.getDesired(name) ?? DEFAULT_DESIRED;
      this.desiredCache.set(name, desired);
    }
    return desired;
  }

  /**
   * First load after daemon start. On a new boot a disabled service is not started; otherwise
   * (a daemon restart) the persisted desired state is restored exactly.
   */
  boot(specs: ReadonlyMap<string, ServiceSpec>, newBoot: boolean, only?: string): void {
    for (const spec of specs.values()) {
      const runner = this.addRunner(spec);
      let desired = this.desired(spec.name);
      if (newBoot && !desired.enabled && desired.state === 'running') {
        desired = { ...desired, state: 'stopped', updatedAt: this.deps.clock.now() };
        this.writeDesired(spec.name, desired);
      }
      if (desired.state !== 'running') continue;
      // --only GROUP: bring up that group alone (the rest is broken, or waits for an operator);
      // desired state is untouched, so a normal daemon start brings everything back.
      if (only !== undefined && !spec.groups.includes(only)) {
        this.held.add(spec.name);
        continue;
      }
      this.startOrListen(runner, { type: 'startRequested', cause: { kind: 'boot', enabled: desired.enabled } });
    }
  }

  /**
   * Lazy socket activation: bind the service's sockets and start it on the first connection.
   * Everything else (and a service whose sockets cannot be bound) goes to the start queue.
   */
  private startOrListen(runner: ServiceRunner, event: StartEvent): void {
    if (runner.spec.socket?.activate === 'lazy') {
      const armed = runner.armActivation(() => {
        if (!this.shuttingDown && this.runners.get(runner.name) === runner && this.desired(runner.name).state === 'running') {
          this.enqueue(runner, event, true);
        }
      });
      if (armed) return;
    }
    this.enqueue(runner, event);
  }

  /** A service that appears at run time: an instance of a template (`upkeep start web@3`). */
  addService(spec: ServiceSpec): void {
    if (this.runners.has(spec.name)) return;
    this.addRunner(spec);
  }

  /** Forgets a stopped template instance: it is no longer listed or started at boot. */
  forget(name: string): void {
    const runner = this.mustGet(name);
    if (runner.spec.template === undefined) throw new UpkeepError('not-an-instance', `${name} is not a template instance; remove its file instead`);
    if (!runner.idle) throw new UpkeepError('still-running', `${name} is still running`, { hint: `stop it first: upkeep stop ${name}` });
    this.starts.remove(name);
    this.queuedStarts.delete(name);
    this.deferred.delete(name);
    runner.dispose();
    this.runners.delete(name);
    this.desiredCache.delete(name);
    this.deps.store.deleteDesired(name);
  }

  /** Applies re-read service files: only the difference is acted on. */
  reload(specs: ReadonlyMap<string, ServiceSpec>, broken: ReadonlySet<string>): SpecDiff {
    const diff = diffSpecs(this.specs(), specs, broken);
    // A file removed and put back before its service finished stopping: keep the service.
    for (const name of specs.keys()) {
      if (!this.leaving.delete(name)) continue;
      const runner = this.runners.get(name) as ServiceRunner;
      if (this.desired(name).state === 'running') {
        runner.dispatch({ type: 'startRequested', cause: { kind: 'config', change: 'added', file: runner.spec.file } });
      }
    }
    for (const spec of diff.added) {
      const runner = this.addRunner(spec);
      if (this.desired(spec.name).state === 'running') {
        this.startOrListen(runner, { type: 'startRequested', cause: { kind: 'config', change: 'added', file: spec.file } });
      }
    }
    for (const spec of diff.changed) {
      const runner = this.runners.get(spec.name) as ServiceRunner;
      // New addresses: the old sockets go, the next start binds the new ones.
      if (JSON.stringify(runner.spec.socket) !== JSON.stringify(spec.socket)) runner.closeSockets();
      runner.spec = spec;
      if (!runner.idle || runner.state.phase === 'backoff') {
        runner.dispatch({ type: 'restartRequested', cause: { kind: 'config', change: 'changed', file: spec.file } });
      }
    }
    for (const name of diff.removed) {
      const runner = this.runners.get(name) as ServiceRunner;
      this.leaving.add(name);
      runner.closeSockets();
      runner.dispatch({ type: 'stopRequested', cause: { kind: 'config', change: 'removed', file: runner.spec.file } });
      void runner.whenIdle().then(() => this.dropIfLeaving(name));
    }
    return diff;
  }

  start(name: string, cause: Cause): void {
    const runner = this.mustGet(name);
    this.setDesiredState(name, 'running');
    this.held.delete(name);
    this.enqueue(runner, { type: 'startRequested', cause }, true);
  }

  stop(name: string, cause: Cause): void {
    const runner = this.mustGet(name);
    this.setDesiredState(name, 'stopped');
    this.deferred.delete(name);
    this.held.delete(name);
    this.dequeue(name);
    runner.dispatch({ type: 'stopRequested', cause });
    // An admin stop is for good: clients are refused rather than left waiting in the backlog.
    runner.closeSockets();
    // Whoever waited for this one no longer has to.
    if (this.deferred.size > 0) this.releaseDeferred();
  }

  restart(name: string, cause: Cause): void {
    const runner = this.mustGet(name);
    this.setDesiredState(name, 'running');
    this.held.delete(name);
    if (runner.idle && runner.state.phase !== 'backoff') this.enqueue(runner, { type: 'startRequested', cause }, true);
    else runner.dispatch({ type: 'restartRequested', cause });
  }

  setEnabled(name: string, enabled: boolean): void {
    this.mustGet(name);
    const d = this.desired(name);
    this.writeDesired(name, { ...d, enabled, updatedAt: this.deps.clock.now() });
  }

  /** Resolves when the named services have no process left (or are backing off). */
  async settled(names: string[]): Promise<void> {
    await Promise.all(names.map((n) => this.runners.get(n)?.whenIdle()));
  }

  /**
   * Resolves once none of the services is in one of `states` (e.g. no longer starting), or after
   * `timeoutMs`; used so a CLI command returns with the outcome rather than a transient state.
   */
  whenPast(names: string[], states: PublicState[], timeoutMs: number): Promise<void> {
    const pending = () => names.some((n) => {
      const r = this.runners.get(n);
      return r !== undefined && (states.includes(r.publicState) || (states.includes('starting') && this.starts.isQueued(n)));
    });
    if (!pending()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.deps.clock.after(timeoutMs, finish);
      const off = this.subscribe(() => {
        if (!pending()) finish();
      });
      function finish(): void {
        timer.cancel();
        off();
        resolve();
      }
    });
  }

  status(names?: string[]): StatusEntry[] {
    const list = names ?? this.names();
    const positions = this.starts.queued > 0 ? this.starts.positions() : undefined;
    return list.flatMap((name) => {
      const runner = this.runners.get(name);
      if (runner === undefined) return [];
      return [
        statusEntry(runner, this.desired(name), {
          waitingFor: this.deferred.has(name) ? this.waitingFor(name) : [],
          queued: positions?.get(name) ?? null,
          held: this.held.has(name),
        }),
      ];
    });
  }

  /** Daemon shutdown: stop everything (cause shutdown), leave desired state as it is. */
  async shutdown(signal?: string): Promise<void> {
    this.shuttingDown = true;
    const cause: Cause = signal === undefined ? { kind: 'shutdown' } : { kind: 'shutdown', signal };
    for (const runner of this.runners.values()) runner.dispatch({ type: 'stopRequested', cause });
    await Promise.all([...this.runners.values()].map((r) => r.whenIdle()));
    for (const runner of this.runners.values()) runner.dispose();
  }

  private addRunner(spec: ServiceSpec): ServiceRunner {
    const runner = new ServiceRunner(spec, this.driverDeps);
    this.runners.set(spec.name, runner);
    return runner;
  }

  /**
   * Puts a start in the start queue (see scheduler.ts); a start that waits for dependencies is
   * held back first and queued once they are ready, so it never occupies a slot while waiting.
   */
  private enqueue(runner: ServiceRunner, event: StartEvent, front = false): void {
    if (this.waitingFor(runner.name).length > 0) {
      this.deferred.set(runner.name, event);
      return;
    }
    this.deferred.delete(runner.name);
    const spec = runner.spec;
    const coreGroup = this.deps.coreGroup ?? DEFAULT_CORE_GROUP;
    this.queuedStarts.set(runner.name, event);
    this.starts.push({
      name: runner.name,
      lane: spec.tenant ?? '',
      priority: spec.priority,
      urgent: spec.tenant === undefined && (spec.priority > 0 || spec.groups.includes(coreGroup)),
      front,
    });
  }

  private dequeue(name: string): void {
    this.starts.remove(name);
    this.queuedStarts.delete(name);
  }

  /** The scheduler gave `name` a start slot. */
  private launch(name: string): void {
    const event = this.queuedStarts.get(name);
    this.queuedStarts.delete(name);
    const runner = this.runners.get(name);
    if (event === undefined || runner === undefined || this.shuttingDown || this.desired(name).state !== 'running') {
      this.starts.release(name);
      return;
    }
    // Dependencies may have gone away while it was queued.
    if (this.waitingFor(name).length > 0) {
      this.deferred.set(name, event);
      this.starts.release(name);
      return;
    }
    runner.dispatch(event);
    if (runner.publicState !== 'starting') this.starts.release(name);
  }

  /** What a start of `name` waits for (see dependencies.ts). Restarts after a crash do not wait. */
  waitingFor(name: string): string[] {
    const spec = this.runners.get(name)?.spec;
    if (spec === undefined) return [];
    return unmetDependencies(spec, {
      state: (dep) => this.runners.get(dep)?.publicState,
      wantedRunning: (dep) => this.desired(dep).state === 'running',
    });
  }

  /**
   * `requires`: when a required service stops for good (stopped or failed, not a restart or a
   * crash that backs off), the services that require it stop too, with the cause `dependency`,
   * and start again once it runs. Their desired state is not touched.
   */
  private stopDependents(service: string): void {
    for (const runner of this.runners.values()) {
      if (!runner.spec.requires.includes(service) || this.desired(runner.name).state !== 'running') continue;
      const cause: Cause = { kind: 'dependency', service };
      this.dequeue(runner.name);
      if (!runner.idle || runner.state.phase === 'backoff') runner.dispatch({ type: 'stopRequested', cause });
      this.deferred.set(runner.name, { type: 'startRequested', cause });
    }
  }

  private releaseDeferred(): void {
    for (const [name, event] of this.deferred) {
      const runner = this.runners.get(name);
      if (runner === undefined || this.desired(name).state !== 'running') this.deferred.delete(name);
      else if (this.waitingFor(name).length === 0) {
        this.deferred.delete(name);
        if (runner.idle) this.enqueue(runner, event);
      }
    }
  }

  private dropIfLeaving(name: string): void {
    if (!this.leaving.has(name)) return;
    const runner = this.runners.get(name);
    if (runner === undefined || !runner.idle) return;
    this.leaving.delete(name);
    this.dequeue(name);
    runner.dispose();
    this.runners.delete(name);
  }

  private setDesiredState(name: string, state: 'running' | 'stopped'): void {
    const d = this.desired(name);
    this.writeDesired(name, { ...d, state, updatedAt: this.deps.clock.now() });
  }

  /** Desired state is read on every status; the store is the truth, this map its write-through copy. */
  private writeDesired(name: string, desired: DesiredRecord): void {
    this.deps.store.setDesired(name, desired);
    this.desiredCache.set(name, desired);
  }

  private mustGet(name: string): ServiceRunner {
    const runner = this.runners.get(name);
    if (runner === undefined) throw new UpkeepError('unknown-service', `no service named "${name}"`);
    return runner;
  }

  private trackInstance(service: string, pid: number | null): void {
    if (pid === null) {
      this.deps.store.clearInstance(service);
      return;
    }
    const startTime = this.deps.readStartTime(pid);
    if (startTime === undefined) return; // already gone: nothing a later daemon could find
    this.deps.store.recordInstance({ service, pid, startTime, bootId: this.deps.bootId });
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
