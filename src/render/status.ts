/** The human `status` table and the one-line event format shared by `events`, `why` and `up`. */
import { describeCause } from '../supervisor/causes.js';
import type { StatusEntry } from '../supervisor/supervisor.js';
import type { EventRecord } from '../store/types.js';
import { table } from './table.js';
import { ago, clock, inFuture } from './time.js';

export function renderStatus(services: StatusEntry[], now = Date.now()): string {
  const rows = [['NAME', 'STATE', 'PID', 'RESTARTS', 'SINCE', 'DETAIL']];
  for (const s of services) {
    rows.push([s.name, stateLabel(s), s.pid === null ? '-' : String(s.pid), String(s.restarts), ago(s.since, now), detail(s, now)]);
  }
  return table(rows);
}

function stateLabel(s: StatusEntry): string {
  if (s.desired === 'stopped' && s.state !== 'stopped') return `${s.state} (stop wanted)`;
  if (s.state === 'stopped' && s.desired === 'running') {
    if (s.queued !== null) return `queued #${s.queued}`;
    if (s.listening) return 'listening';
    if (s.held) return 'held';
  }
  if (s.desired === 'running' && (s.state === 'stopped' || s.state === 'failed')) return `${s.state}*`;
  return s.state;
}

function detail(s: StatusEntry, now: number): string {
  const parts: string[] = [];
  if (s.waitingFor.length > 0) parts.push(`waiting for ${s.waitingFor.join(', ')} to be ready`);
  if (s.listening) parts.push('sockets bound; starts on the first connection');
  if (s.held) parts.push('held by `daemon --only`; upkeep start releases it');
  if (s.state === 'backoff' && s.nextAttemptAt !== null) parts.push(`next attempt ${inFuture(s.nextAttemptAt, now)}`);
  if (s.why !== null && s.state !== 'running' && s.queued === null) parts.push(s.why);
  if (s.health !== null && (s.state === 'running' || s.state === 'starting')) {
    const latency = s.health.latencyMs === null ? '' : ` ${Math.round(s.health.latencyMs)}ms`;
    parts.push(`${s.health.ok ? 'healthy' : 'unhealthy'}${latency}${s.health.ok ? '' : `: ${s.health.output}`}`);
  }
  if (s.status !== null && s.state !== 'stopped') parts.push(`"${s.status}"`);
  if (!s.enabled) parts.push('disabled');
  return parts.join('; ');
}

export function renderEvent(e: EventRecord, withService = true): string {
  const svc = withService ? `${e.service}  ` : '';
  const pid = typeof e.detail?.pid === 'number' && e.to !== 'stopped' ? `  pid ${e.detail.pid}` : '';
  return `${clock(e.time)}  ${svc}${e.from} -> ${e.to}  ${describeCause(e.cause)}${pid}`;
}
