/**
 * The transitions of the state machine: entering a phase arms what that phase needs, and
 * `moveTo` is the one place a phase changes (it records public changes and disarms what watched
 * a run that ends). Pure, like machine.ts, which decides which transition an event takes.
 */
import { exitCause, type Cause } from './causes.js';
import { nextAttempt, restartDelay } from './backoff.js';
import { PUBLIC_STATE, type Effect, type Phase, type ServiceState, type StepContext, type StepResult } from './machine-types.js';


export function enterStarting(state: ServiceState, cause: Cause, ctx: StepContext): StepResult {
  const moved = moveTo(
    {
      ...state,
      pid: null,
      leaderAlive: false,
      startedAt: null,
      nextAttemptAt: null,
      stopCause: null,
      then: 'stay',
      lastHeartbeat: null,
      probeFailures: 0,
      probeSuccesses: 0,
    },
    'starting',
    cause,
    ctx,
  );
  return { state: moved.state, effects: [...moved.effects, { type: 'spawn' }] };
}

export function enterStopSignal(
  state: ServiceState,
  cause: Cause,
  then: ServiceState['then'],
  ctx: StepContext,
  signal: string = ctx.spec.stopSignal,
): StepResult {
  const moved = moveTo({ ...state, stopCause: cause, then }, 'stop-signal', cause, ctx);
  const effects: Effect[] = [
    ...moved.effects,
    { type: 'signal', signal },
    { type: 'armTimer', timer: 'stop', ms: ctx.spec.stopTimeoutMs },
  ];
  if (!state.leaderAlive) effects.push({ type: 'awaitGroupEmpty' });
  return { state: moved.state, effects };
}

/** The whole group is gone: cancel the stop timers, then do what the stop was for. */
export function finishStop(state: ServiceState, ctx: StepContext): StepResult {
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
export function applyPolicy(state: ServiceState, cause: Cause, ctx: StepContext): StepResult {
  const clean = cause.kind === 'exit' && cause.code === 0;
  const policy = ctx.spec.restart;
  if (policy === 'never') return moveTo(state, clean ? 'stopped' : 'failed', cause, ctx);
  if (policy === 'on-failure' && clean) return moveTo(state, 'stopped', cause, ctx);
  const ranMs = state.startedAt === null ? 0 : ctx.now - state.startedAt;
  return enterBackoff(state, cause, ctx, ranMs);
}

export function enterBackoff(state: ServiceState, cause: Cause, ctx: StepContext, ranMs: number): StepResult {
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
export function moveTo(
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
  // Leaving a run disarms what watched it; only the promotion starting -> running keeps them.
  const leavingRun = (state.phase === 'starting' || state.phase === 'running') && !(state.phase === 'starting' && phase === 'running');
  return { state: next, effects: leavingRun ? [...disarmLiveness(), record] : [record] };
}

// --- liveness: readiness, watchdog, health ------------------------------------------------

export function enterRunning(state: ServiceState, cause: Cause, ctx: StepContext, detail: Record<string, unknown>): StepResult {
  const wasStarting = state.phase === 'starting' && state.startedAt !== null && ctx.spec.ready !== 'started';
  const moved = moveTo(state, 'running', cause, ctx, detail);
  const effects: Effect[] = [...moved.effects, { type: 'cancelTimer', timer: 'start' }];
  // With ready = "started" nothing was armed while starting; otherwise it already runs.
  if (!wasStarting) effects.push(...armLiveness(ctx));
  return { state: moved.state, effects };
}

export function armLiveness(ctx: StepContext): Effect[] {
  const effects: Effect[] = [];
  if (ctx.spec.watchdogMs !== undefined) effects.push({ type: 'armTimer', timer: 'watchdog', ms: ctx.spec.watchdogMs });
  if (ctx.spec.health !== undefined) effects.push({ type: 'probes', on: true });
  return effects;
}

export function disarmLiveness(): Effect[] {
  return [
    { type: 'cancelTimer', timer: 'start' },
    { type: 'cancelTimer', timer: 'watchdog' },
    { type: 'probes', on: false },
  ];
}

export function heartbeat(state: ServiceState, ctx: StepContext): StepResult {
  const next = { ...state, lastHeartbeat: ctx.now };
  if (ctx.spec.watchdogMs === undefined) return unchanged(next);
  return { state: next, effects: [{ type: 'armTimer', timer: 'watchdog', ms: ctx.spec.watchdogMs }] };
}

/** A hung service: SIGABRT (for a core or stack dump), then the usual stop_timeout and SIGKILL. */
export function watchdogExpired(state: ServiceState, ctx: StepContext): StepResult {
  const beat = state.lastHeartbeat ?? state.startedAt;
  const cause: Cause = beat === null ? { kind: 'watchdog' } : { kind: 'watchdog', lastHeartbeat: new Date(beat).toISOString() };
  return enterStopSignal(state, cause, 'policy', ctx, 'SIGABRT');
}

export function recordProbe(
  state: ServiceState,
  event: { ok: boolean; output: string },
  ctx: StepContext,
  count = true,
): ServiceState {
  // Failures during `grace` after the spawn are slow starts, not sickness.
  const inGrace = state.startedAt !== null && ctx.now - state.startedAt < (ctx.spec.health?.graceMs ?? 0);
  const failed = !event.ok && count && !inGrace;
  return {
    ...state,
    probeFailures: event.ok ? 0 : failed ? state.probeFailures + 1 : state.probeFailures,
    probeSuccesses: event.ok ? state.probeSuccesses + 1 : 0,
    lastProbe: { ok: event.ok, output: event.output, at: ctx.now },
  };
}

export function unchanged(state: ServiceState): StepResult {
  return { state, effects: [] };
}
