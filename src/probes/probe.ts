/**
 * One health probe of a service, of the kind its [health] table names (tcp, http or exec). A
 * probe never rejects: every outcome is a ProbeResult with a short one-line text (at most 200
 * chars) of what was seen, which `status` shows and a `health` cause records. Scheduling lives in
 * the driver (one in flight per service); each kind bounds itself by `timeoutMs`.
 */
import type { HealthSpec } from '../config/spec.js';
import { execProbe } from './exec.js';
import { httpProbe } from './http.js';
import { tcpProbe } from './tcp.js';

export interface ProbeResult {
  ok: boolean;
  latencyMs: number;
  output: string;
}

export interface ProbeContext {
  env: Record<string, string>;
  directory: string;
  uid?: number;
  gid?: number;
}

/** `ctx` may be a function: only exec checks need it, and building an environment per probe costs. */
export async function runProbe(
  health: HealthSpec,
  ctx: ProbeContext | (() => ProbeContext),
  now: () => number = () => performance.now(),
): Promise<ProbeResult> {
  const start = now();
  let outcome: { ok: boolean; output: string };
  try {
    if (health.tcp !== undefined) outcome = await tcpProbe(health.tcp, health.expect, health.timeoutMs);
    else if (health.http !== undefined) outcome = await httpProbe(health.http, health.expect, health.timeoutMs);
    else if (health.exec !== undefined) outcome = await execProbe(health.exec, typeof ctx === 'function' ? ctx() : ctx, health.timeoutMs);
    else outcome = { ok: false, output: 'no check configured' };
  } catch (err) {
    // A bad address or URL, a spawn refused outright (EPERM) or a failing ctx() gets here.
    outcome = { ok: false, output: err instanceof Error ? err.message : String(err) };
  }
  return { ok: outcome.ok, output: clip(outcome.output), latencyMs: now() - start };
}

/** One line, at most `max` chars: outputs end up in status tables and event causes. */
export function clip(text: string, max = 200): string {
  if (text.length <= max && !/[\n\r\t]/.test(text)) return text; // the common case, kept cheap
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= max ? one : `${one.slice(0, max - 1)}…`;
}
