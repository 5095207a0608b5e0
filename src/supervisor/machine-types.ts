/**
 * The vocabulary of the per-service state machine: phases and their public states, events,
 * effects, the state record and the slice of the spec the machine reads. Pure data, no logic
 * beyond `initialState`.
 */
import type { ServiceSpec } from '../config/spec.js';
import type { PublicState } from '../store/types.js';
import type { Cause } from './causes.js';


/** Finer internal phases; `PUBLIC_STATE` maps them onto the six public states. */
export type Phase = 'stopped' | 'failed' | 'starting' | 'running' | 'stop-signal' | 'stop-kill' | 'backoff';

export const PUBLIC_STATE: Record<Phase, PublicState> = {
  stopped: 'stopped',
  failed: 'failed',
  starting: 'starting',
  running: 'running',
  'stop-signal': 'stopping',
  'stop-kill': 'stopping',
  backoff: 'backoff',
};

export type TimerName = 'backoff' | 'stop' | 'kill' | 'start' | 'watchdog';

/** How long to wait after SIGKILL before sending it again (a process in uninterruptible sleep). */
export const KILL_RETRY_MS = 5_000;

export interface ServiceState {
  phase: Phase;
  /** When the public state last changed. */
  since: number;
  /** Pid of the process group leader while a group may exist. */
  pid: number | null;
  /** Whether the leader itself is still running (the group may outlive it). */
  leaderAlive: boolean;
  /** When the current run was spawned. */
  startedAt: number | null;
  /** Automatic restarts since the daemon started. */
  restarts: number;
  /** Consecutive quick failures; drives the backoff delay. */
  attempt: number;
  nextAttemptAt: number | null;
  /** Why the current stop began (first cause wins). */
  stopCause: Cause | null;
  /** What happens when the current stop completes. */
  then: 'stay' | 'start' | 'policy';
  /** The cause of the last recorded change. */
  lastCause: Cause | null;
  lastExit: { code: number | null; signal: string | null } | null;
  /** Last sd_notify WATCHDOG=1 (or the spawn, before the first one). */
  lastHeartbeat: number | null;
  /** Consecutive failed health probes of the current run. */
  probeFailures: number;
  /** Consecutive passing probes (readiness with `ready = "health"`). */
  probeSuccesses: number;
  lastProbe: { ok: boolean; output: string; at: number } | null;
}

export type MachineEvent =
  | { type: 'startRequested'; cause: Cause }
  | { type: 'stopRequested'; cause: Cause }
  | { type: 'restartRequested'; cause: Cause }
  | { type: 'spawned'; pid: number }
  | { type: 'spawnFailed'; errno: string; message: string }
  | { type: 'exited'; code: number | null; signal: string | null; groupAlive: boolean }
  | { type: 'groupEmptied' }
  | { type: 'timerFired'; timer: TimerName }
  /** sd_notify READY=1, or a passing probe when `ready = "health"`. */
  | { type: 'readyNotified' }
  | { type: 'watchdogPinged' }
  /** sd_notify WATCHDOG=trigger: the service asks to be treated as hung. */
  | { type: 'watchdogTriggered' }
  /** sd_notify EXTEND_TIMEOUT_USEC: the current start or stop timeout becomes `ms` from now. */
  | { type: 'timeoutExtended'; ms: number }
  | { type: 'probeResult'; ok: boolean; output: string };

export type Effect =
  | { type: 'spawn' }
  /** Send a signal to the whole process group of the service. */
  | { type: 'signal'; signal: string }
  /** The leader is gone but group members remain: report `groupEmptied` when they are gone. */
  | { type: 'awaitGroupEmpty' }
  | { type: 'armTimer'; timer: TimerName; ms: number }
  | { type: 'cancelTimer'; timer: TimerName }
  | { type: 'record'; from: PublicState; to: PublicState; cause: Cause; detail?: Record<string, unknown> }
  /** Start or stop the periodic health probes of the service. */
  | { type: 'probes'; on: boolean };

export type MachineSpec = Pick<ServiceSpec, 'restart' | 'backoff' | 'stopSignal' | 'stopTimeoutMs' | 'ready' | 'startTimeoutMs'> &
  Partial<Pick<ServiceSpec, 'watchdogMs' | 'health'>>;

export interface StepContext {
  spec: MachineSpec;
  now: number;
  random: () => number;
}

export interface StepResult {
  state: ServiceState;
  effects: Effect[];
}

export function initialState(now: number): ServiceState {
  return {
    phase: 'stopped',
    since: now,
    pid: null,
    leaderAlive: false,
    startedAt: null,
    restarts: 0,
    attempt: 0,
    nextAttemptAt: null,
    stopCause: null,
    then: 'stay',
    lastCause: null,
    lastExit: null,
    lastHeartbeat: null,
    probeFailures: 0,
    probeSuccesses: 0,
    lastProbe: null,
  };
}
