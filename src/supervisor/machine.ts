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
 * - A public state change always comes with exactly one `record` effect (see `moveTo` in
 *   transitions.ts).
 * - While stopping, the first cause wins: a later stop request changes what happens next
 *   (`then`), never the recorded cause.
 * - There is no terminal state for `restart = "always"`: every exit ends in `starting` or
 *   `backoff`, forever; `failed` is reachable only with `restart = "never"`.
 * - A stop is complete only when the whole process group is gone, not just the leader.
 */
import { exitCause, type Cause } from './causes.js';
import { KILL_RETRY_MS, type MachineEvent, type ServiceState, type StepContext, type StepResult } from './machine-types.js';
import {
  applyPolicy,
  enterBackoff,
  enterRunning,
  enterStarting,
  enterStopSignal,
  finishStop,
  heartbeat,
  moveTo,
  recordProbe,
  unchanged,
  watchdogExpired,
  armLiveness,
} from './transitions.js';

export * from './machine-types.js';

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
    case 'readyNotified':
    case 'watchdogPinged':
    case 'watchdogTriggered':
    case 'timeoutExtended':
    case 'probeResult':
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
    case 'readyNotified':
    case 'watchdogPinged':
    case 'watchdogTriggered':
    case 'timeoutExtended':
    case 'probeResult':
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
      const cause = state.lastCause ?? { kind: 'restart', attempt: state.attempt, delayMs: 0 };
      if (ctx.spec.ready === 'started') return enterRunning(started, cause, ctx, { pid: event.pid });
      // Not ready yet: the start timeout runs, and so do the watchdog and the probes.
      return { state: started, effects: [{ type: 'armTimer', timer: 'start', ms: ctx.spec.startTimeoutMs }, ...armLiveness(ctx)] };
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
      // Spawned but not ready yet: stop it now; spawn still in flight: stop it once it exists.
      if (state.pid !== null) return enterStopSignal(state, event.cause, 'stay', ctx);
      return unchanged({ ...state, stopCause: state.stopCause ?? event.cause, then: 'stay' });
    case 'restartRequested':
      if (state.pid !== null) return enterStopSignal(state, event.cause, 'start', ctx);
      return unchanged(state.stopCause === null ? state : { ...state, then: 'start' });
    case 'startRequested':
      // Already on the way up; a pending stop is overridden by a later start.
      return unchanged(state.stopCause === null ? state : { ...state, then: 'start' });
    case 'exited':
      // Not ready yet, or 'exit' before 'spawn': either way a run that ended (moveTo disarms).
      return fromRunning({ ...state, phase: 'running', startedAt: state.startedAt ?? ctx.now }, event, ctx);
    case 'readyNotified':
      return state.pid === null ? unchanged(state) : enterRunning(state, state.lastCause ?? { kind: 'boot', enabled: true }, ctx, { pid: state.pid });
    case 'probeResult':
      // While starting, a probe only tells readiness; failures are the start timeout's business.
      const probed = recordProbe(state, event, ctx, false);
      if (ctx.spec.ready === 'health' && state.pid !== null && probed.probeSuccesses >= (ctx.spec.health?.successes ?? 1)) {
        return enterRunning(probed, state.lastCause ?? { kind: 'boot', enabled: true }, ctx, { pid: state.pid });
      }
      return unchanged(probed);
    case 'timerFired':
      if (event.timer === 'start' && state.pid !== null) {
        return enterStopSignal(state, { kind: 'start-timeout', timeoutMs: ctx.spec.startTimeoutMs }, 'policy', ctx);
      }
      if (event.timer === 'watchdog' && state.pid !== null) return watchdogExpired(state, ctx);
      return unchanged(state);
    case 'timeoutExtended':
      return state.pid === null ? unchanged(state) : { state, effects: [{ type: 'armTimer', timer: 'start', ms: event.ms }] };
    case 'watchdogPinged':
      return heartbeat(state, ctx);
    case 'watchdogTriggered':
      return state.pid === null ? unchanged(state) : watchdogExpired(state, ctx);
    case 'groupEmptied':
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
    case 'timerFired':
      return event.timer === 'watchdog' ? watchdogExpired(state, ctx) : unchanged(state);
    case 'watchdogPinged':
      return heartbeat(state, ctx);
    case 'watchdogTriggered':
      return watchdogExpired(state, ctx);
    case 'probeResult': {
      const probed = recordProbe(state, event, ctx);
      const limit = ctx.spec.health?.failures ?? Number.POSITIVE_INFINITY;
      if (probed.probeFailures < limit) return unchanged(probed);
      return enterStopSignal(probed, { kind: 'health', output: event.output }, 'policy', ctx);
    }
    case 'startRequested':
    case 'spawned':
    case 'spawnFailed':
    case 'groupEmptied':
    case 'readyNotified':
    case 'timeoutExtended':
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
    case 'timeoutExtended':
      // As in systemd, EXTEND_TIMEOUT_USEC while stopping pushes the SIGKILL back.
      return state.phase === 'stop-signal' ? { state, effects: [{ type: 'armTimer', timer: 'stop', ms: event.ms }] } : unchanged(state);
    case 'spawned':
    case 'spawnFailed':
    case 'readyNotified':
    case 'watchdogPinged':
    case 'watchdogTriggered':
    case 'probeResult':
      return unchanged(state);
    default:
      return exhaustive(event);
  }
}

function exhaustive(event: never): never {
  throw new Error(`unhandled event ${JSON.stringify(event)}`);
}
