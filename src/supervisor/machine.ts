/**
 * The per-service state machine: `step(state, event, ctx) → {state, effects}`, pure.
 *
 * No I/O, no timers and no clock in here: time arrives as `ctx.now`, randomness as `ctx.random`,
 * and everything the outside world must do comes back as Effect data for the driver to run.
 * Every (phase, event) pair is handled explicitly: a `switch` on the phase, an inner `switch` on
 * the event type, and an exhaustive `never` check so that a new event type will not compile until
 * every phase handles it.
 *
 * Invariants:
 * - A public state change always comes with exactly one `record` effect (see `moveTo`).
 * - While stopping, the first cause wins: a later stop request changes what happens next
 *   (`then`), never the recorded cause.
 * - There is no terminal state for `restart = "always"`: every exit ends in `starting` or
 *   `backoff`, forever; `failed` is reachable only with `restart = "never"`.
 * - A stop is complete only when the whole process group is gone, not just the leader.
 */
import type { ServiceSpec } from '../config/spec.js';
import type { PublicState } from '../store/types.js';
import { exitCause, type Cause } from './causes.js';
import { nextAttempt, restartDelay } from './backoff.js';

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

export type TimerName = 'backoff' | 'stop' | 'kill';

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
}

export type MachineEvent =
  | { type: 'startRequested'; cause: Cause }
  | { type: 'stopRequested'; cause: Cause }
  | { type: 'restartRequested'; cause: Cause }
  | { type: 'spawned'; pid: number }
  | { type: 'spawnFailed'; errno: string; message: string }
  | { type: 'exited'; code: number | null; signal: string | null; groupAlive: boolean }
  | { type: 'groupEmptied' }
  | { type: 'timerFired'; timer: TimerName };

export type Effect =
  | { type: 'spawn' }
  /** Send a signal to the whole process group of the service. */
  | { type: 'signal'; signal: string }
  /** The leader is gone but group members remain: report `groupEmptied` when they are gone. */
  | { type: 'awaitGroupEmpty' }
  | { type: 'armTimer'; timer: TimerName; ms: number }
  | { type: 'cancelTimer'; timer: TimerName }
  | { type: 'record'; from: PublicState; to: PublicState; cause: Cause; detail?: Record<string, unknown> };

export type MachineSpec = Pick<ServiceSpec, 'restart' | 'backoff' | 'stopSignal' | 'stopTimeoutMs'>;

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
  };
}

export function step(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (state.phase) {
    case 'stopped':
    case 'failed':
      return fromIdle(state, event, ctx);
    case 'backoff':
      return fromBackoff(state, event, ctx);
    case 'starting':
      return fromStarting(state, event, ctx);
    case 'running':
      return fromRunning(state, event, ctx);
    case 'stop-signal':
    case 'stop-kill':
      return fromStopping(state, event, ctx);
    default: {
      const unreachable: never = state.phase;
      throw new Error(`unknown phase ${String(unreachable)}`);
    }
  }
}

function fromIdle(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (event.type) {
    case 'startRequested':
    case 'restartRequested':
      return enterStarting({ ...state, attempt: 0 }, event.cause, ctx);
    case 'stopRequested':
    case 'spawned':
    case 'spawnFailed':
    case 'exited':
    case 'groupEmptied':
    case 'timerFired':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

function fromBackoff(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (event.type) {
    case 'timerFired': {
      if (event.timer !== 'backoff') return unchanged(state);
      const delayMs = state.nextAttemptAt === null ? 0 : Math.max(0, ctx.now - (state.since));
      const cause: Cause = { kind: 'restart', attempt: state.attempt, delayMs };
      return enterStarting({ ...state, restarts: state.restarts + 1 }, cause, ctx);
    }
    case 'startRequested':
    case 'restartRequested': {
      // An operator asking now should not wait out the backoff.
      const next = enterStarting({ ...state, attempt: 0 }, event.cause, ctx);
      return { state: next.state, effects: [{ type: 'cancelTimer', timer: 'backoff' }, ...next.effects] };
    }
    case 'stopRequested': {
      const moved = moveTo({ ...state, nextAttemptAt: null }, 'stopped', event.cause, ctx);
      return { state: moved.state, effects: [{ type: 'cancelTimer', timer: 'backoff' }, ...moved.effects] };
    }
    case 'spawned':
    case 'spawnFailed':
    case 'exited':
    case 'groupEmptied':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

function fromStarting(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (event.type) {
    case 'spawned': {
      const started = { ...state, pid: event.pid, leaderAlive: true, startedAt: ctx.now };
      if (state.stopCause !== null) {
        // A stop arrived while the spawn was in flight: stop the new process straight away.
        return enterStopSignal(started, state.stopCause, state.then, ctx);
      }
      return moveTo(started, 'running', state.lastCause ?? { kind: 'restart', attempt: state.attempt, delayMs: 0 }, ctx, {
        pid: event.pid,
      });
    }
    case 'spawnFailed': {
      const cause: Cause = { kind: 'spawn-error', errno: event.errno, message: event.message };
      const cleared = { ...state, pid: null, leaderAlive: false };
      if (state.stopCause !== null && state.then === 'stay') {
        return moveTo({ ...cleared, stopCause: null }, 'stopped', state.stopCause, ctx);
      }
      return enterBackoff({ ...cleared, stopCause: null, then: 'stay' }, cause, ctx, 0);
    }
    case 'stopRequested':
      return unchanged({ ...state, stopCause: state.stopCause ?? event.cause, then: 'stay' });
    case 'restartRequested':
    case 'startRequested':
      // Already on the way up; a pending stop is overridden by a later start.
      return unchanged(state.stopCause === null ? state : { ...state, then: 'start' });
    case 'exited':
      // 'exit' cannot precede 'spawn' for one child; treat it as a run that ended at once.
      return fromRunning({ ...state, phase: 'running', startedAt: state.startedAt ?? ctx.now }, event, ctx);
    case 'groupEmptied':
    case 'timerFired':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

function fromRunning(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (event.type) {
    case 'exited': {
      const cause = exitCause(event.code, event.signal);
      const exited = { ...state, leaderAlive: false, lastExit: { code: event.code, signal: event.signal } };
      if (event.groupAlive) {
        // The leader is gone but its children are not: stop them before restarting, so that
        // the next run never overlaps with leftovers of this one.
        return enterStopSignal(exited, cause, 'policy', ctx);
      }
      return applyPolicy({ ...exited, pid: null }, cause, ctx);
    }
    case 'stopRequested':
      return enterStopSignal(state, event.cause, 'stay', ctx);
    case 'restartRequested':
      return enterStopSignal(state, event.cause, 'start', ctx);
    case 'startRequested':
    case 'spawned':
    case 'spawnFailed':
    case 'groupEmptied':
    case 'timerFired':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

function fromStopping(state: ServiceState, event: MachineEvent, ctx: StepContext): StepResult {
  switch (event.type) {
    case 'exited': {
      const exited = { ...state, leaderAlive: false, lastExit: { code: event.code, signal: event.signal } };
      if (event.groupAlive) return { state: exited, effects: [{ type: 'awaitGroupEmpty' }] };
      return finishStop(exited, ctx);
    }
    case 'groupEmptied':
      return state.leaderAlive ? unchanged(state) : finishStop(state, ctx);
    case 'timerFired': {
      if (event.timer === 'stop' && state.phase === 'stop-signal') {
        return {
          state: { ...state, phase: 'stop-kill' },
          effects: [
            { type: 'signal', signal: 'SIGKILL' },
            { type: 'armTimer', timer: 'kill', ms: KILL_RETRY_MS },
          ],
        };
      }
      if (event.timer === 'kill' && state.phase === 'stop-kill') {
        // Still there after SIGKILL (uninterruptible sleep): keep insisting.
        return {
          state,
          effects: [
            { type: 'signal', signal: 'SIGKILL' },
            { type: 'armTimer', timer: 'kill', ms: KILL_RETRY_MS },
          ],
        };
      }
      return unchanged(state);
    }
    case 'stopRequested':
      return unchanged({ ...state, then: 'stay' });
    case 'startRequested':
    case 'restartRequested':
      return unchanged({ ...state, then: 'start' });
    case 'spawned':
    case 'spawnFailed':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

// --- transitions -------------------------------------------------------------------------

function enterStarting(state: ServiceState, cause: Cause, ctx: StepContext): StepResult {
  const moved = moveTo(
    { ...state, pid: null, leaderAlive: false, startedAt: null, nextAttemptAt: null, stopCause: null, then: 'stay' },
    'starting',
    cause,
    ctx,
  );
  return { state: moved.state, effects: [...moved.effects, { type: 'spawn' }] };
}

function enterStopSignal(state: ServiceState, cause: Cause, then: ServiceState['then'], ctx: StepContext): StepResult {
  const moved = moveTo({ ...state, stopCause: cause, then }, 'stop-signal', cause, ctx);
  const effects: Effect[] = [
    ...moved.effects,
    { type: 'signal', signal: ctx.spec.stopSignal },
    { type: 'armTimer', timer: 'stop', ms: ctx.spec.stopTimeoutMs },
  ];
  if (!state.leaderAlive) effects.push({ type: 'awaitGroupEmpty' });
  return { state: moved.state, effects };
}

/** The whole group is gone: cancel the stop timers, then do what the stop was for. */
function finishStop(state: ServiceState, ctx: StepContext): StepResult {
  const cancel: Effect[] = [
    { type: 'cancelTimer', timer: 'stop' },
    { type: 'cancelTimer', timer: 'kill' },
  ];
  const cause = state.stopCause ?? exitCause(state.lastExit?.code ?? null, state.lastExit?.signal ?? null);
  const done = { ...state, pid: null, leaderAlive: false, stopCause: null };
  let next: StepResult;
  switch (state.then) {
    case 'stay':
      next = moveTo({ ...done, then: 'stay' }, 'stopped', cause, ctx);
      break;
    case 'start':
      next = enterStarting({ ...done, attempt: 0 }, cause, ctx);
      break;
    case 'policy':
      next = applyPolicy({ ...done, then: 'stay' }, cause, ctx);
      break;
    default: {
      const unreachable: never = state.then;
      throw new Error(`unknown continuation ${String(unreachable)}`);
    }
  }
  return { state: next.state, effects: [...cancel, ...next.effects] };
}

/** After an unrequested exit: restart at once, back off, or rest, per `restart`. */
function applyPolicy(state: ServiceState, cause: Cause, ctx: StepContext): StepResult {
  const clean = cause.kind === 'exit' && cause.code === 0;
  const policy = ctx.spec.restart;
  if (policy === 'never') return moveTo(state, clean ? 'stopped' : 'failed', cause, ctx);
  if (policy === 'on-failure' && clean) return moveTo(state, 'stopped', cause, ctx);
  const ranMs = state.startedAt === null ? 0 : ctx.now - state.startedAt;
  return enterBackoff(state, cause, ctx, ranMs);
}

function enterBackoff(state: ServiceState, cause: Cause, ctx: StepContext, ranMs: number): StepResult {
  const attempt = nextAttempt(state.attempt, ranMs, ctx.spec.backoff);
  const delayMs = restartDelay(attempt, ctx.spec.backoff, ctx.random);
  if (delayMs === 0) {
    // A long run that ended: come straight back (no timer, no extra event loop turn).
    const restarted = { ...state, attempt, restarts: state.restarts + 1 };
    return enterStarting(restarted, cause, ctx);
  }
  const nextAttemptAt = ctx.now + delayMs;
  const moved = moveTo({ ...state, attempt, nextAttemptAt }, 'backoff', cause, ctx, {
    attempt,
    delayMs,
    nextAttemptAt: new Date(nextAttemptAt).toISOString(),
  });
  return { state: moved.state, effects: [...moved.effects, { type: 'armTimer', timer: 'backoff', ms: delayMs }] };
}

/** The one place a phase changes: a public change is recorded with its cause. */
function moveTo(
  state: ServiceState,
  phase: Phase,
  cause: Cause,
  ctx: StepContext,
  detail?: Record<string, unknown>,
): StepResult {
  const from = PUBLIC_STATE[state.phase];
  const to = PUBLIC_STATE[phase];
  if (from === to) return { state: { ...state, phase }, effects: [] };
  const next = { ...state, phase, since: ctx.now, lastCause: cause };
  const record: Effect = detail === undefined ? { type: 'record', from, to, cause } : { type: 'record', from, to, cause, detail };
  return { state: next, effects: [record] };
}

function unchanged(state: ServiceState): StepResult {
  return { state, effects: [] };
}

function exhaustive(event: never): never {
  throw new Error(`unhandled event ${JSON.stringify(event)}`);
}
