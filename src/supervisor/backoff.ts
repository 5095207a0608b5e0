/**
 * Restart policy as a pure function. `attempt` counts consecutive quick failures: 0 means the last
 * run lasted at least `reset_after`, so the service is restarted at once (a long-running service
 * that dies comes straight back); from 1 on the delay doubles from `initial` up to `max`, with
 * ±20 % jitter so that services that crashed together do not restart in lockstep.
 * There is no last attempt: the delay stays at `max` forever (no terminal FATAL state).
 */
import type { BackoffPolicy } from '../config/spec.js';

export const JITTER = 0.2;

export function restartDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  if (attempt <= 0) return 0;
  // 2 ** 40 already exceeds any sane max; clamping the exponent keeps the number finite.
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt - 1, 40));
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  return Math.max(1, Math.min(policy.maxMs, Math.round(jittered)));
}

/** The attempt number after a run that lasted `ranMs`: a long enough run resets the count. */
export function nextAttempt(previous: number, ranMs: number, policy: BackoffPolicy): number {
  return ranMs >= policy.resetAfterMs ? 0 : previous + 1;
}
