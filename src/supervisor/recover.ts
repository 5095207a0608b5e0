/**
 * Crash recovery, run once at daemon start before anything is started: processes left by a
 * previous daemon instance are found by recorded pid AND start time (never by name) and killed,
 * so that there is never a second copy of a service. Each one gets a `recovered` event.
 *
 * Why kill rather than adopt: a leftover is not our child, so its exit cannot be observed without
 * polling, and its stdout/stderr pipes died with the old daemon. Killing and starting afresh keeps
 * "exactly one instance" and "every stop has a cause" both true. (A native spawner that outlives
 * the daemon is the way to keep services across daemon upgrades; see DESIGN.md.)
 */
import type { InstanceRecord, PublicState, Store } from '../store/types.js';
import type { Cause } from './causes.js';

export interface RecoverDeps {
  store: Store;
  bootId: string;
  isSameProcess(pid: number, startTime: number): boolean;
  groupMembers(pgid: number): number[];
  readStartTime(pid: number): number | undefined;
  signal(pid: number, signal: string): void;
  commit(service: string, from: PublicState, to: PublicState, cause: Cause, detail?: Record<string, unknown>): void;
  /** Stop signal and timeout per service, from the current files (defaults when removed). */
  stopPolicy(service: string): { signal: string; timeoutMs: number };
  sleep(ms: number): Promise<void>;
  now(): number;
}

interface Leftover {
  instance: InstanceRecord;
  /** Pids of our processes still alive (the leader, or members of its group started after it). */
  pids: number[];
}

export async function recoverLeftovers(deps: RecoverDeps): Promise<number> {
  const leftovers: Leftover[] = [];
  for (const instance of deps.store.instances()) {
    const pids = instance.bootId === deps.bootId ? ourProcesses(instance, deps) : [];
    if (pids.length === 0) {
      deps.store.clearInstance(instance.service);
      deps.commit(instance.service, 'running', 'stopped', { kind: 'recovered', pid: instance.pid, action: 'gone' });
      continue;
    }
    leftovers.push({ instance, pids });
  }
  if (leftovers.length === 0) return 0;

  for (const l of leftovers) signalAll(l.pids, deps.stopPolicy(l.instance.service).signal, deps);
  const deadline = deps.now() + Math.max(...leftovers.map((l) => deps.stopPolicy(l.instance.service).timeoutMs));
  await waitGone(leftovers, deps, deadline);
  for (const l of leftovers) if (alive(l, deps).length > 0) signalAll(alive(l, deps), 'SIGKILL', deps);
  await waitGone(leftovers, deps, deps.now() + 5_000);

  for (const l of leftovers) {
    deps.store.clearInstance(l.instance.service);
    deps.commit(l.instance.service, 'running', 'stopped', { kind: 'recovered', pid: l.instance.pid, action: 'killed' }, {
      pids: l.pids,
    });
  }
  return leftovers.length;
}

/** The leader if it is the same process, plus group members that started no earlier than it. */
function ourProcesses(instance: InstanceRecord, deps: RecoverDeps): number[] {
  const pids = new Set<number>();
  if (deps.isSameProcess(instance.pid, instance.startTime)) pids.add(instance.pid);
  for (const pid of deps.groupMembers(instance.pid)) {
    const started = deps.readStartTime(pid);
    // A member that predates the leader cannot be its descendant: the pgid was reused.
    if (started !== undefined && started >= instance.startTime) pids.add(pid);
  }
  return [...pids];
}

function alive(l: Leftover, deps: RecoverDeps): number[] {
  return ourProcesses(l.instance, deps);
}

function signalAll(pids: number[], signal: string, deps: RecoverDeps): void {
  for (const pid of pids) deps.signal(pid, signal);
}

/** Leftovers are not our children: no exit event exists for them, so check at short intervals. */
async function waitGone(leftovers: Leftover[], deps: RecoverDeps, deadline: number): Promise<void> {
  let wait = 5;
  while (deps.now() < deadline && leftovers.some((l) => alive(l, deps).length > 0)) {
    await deps.sleep(wait);
    wait = Math.min(wait * 2, 200);
  }
}
