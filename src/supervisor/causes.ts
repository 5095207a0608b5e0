/**
 * The closed vocabulary of why a service changed state. Every recorded event carries exactly
 * one Cause; `kind` strings appear as-is in JSON, in `upkeep why` and in metrics.
 */
export type Cause =
  | { kind: 'exit'; code: number }
  | { kind: 'signal'; signal: string }
  | { kind: 'spawn-error'; errno: string; message: string }
  | { kind: 'admin'; command: string; uid: number | null; user?: string; pid?: number; socket: string; reason?: string }
  | { kind: 'config'; change: 'added' | 'changed' | 'removed' | 'loaded'; file?: string }
  | { kind: 'restart'; attempt: number; delayMs: number }
  | { kind: 'shutdown'; signal?: string }
  | { kind: 'boot'; enabled: boolean }
  | { kind: 'recovered'; pid: number; action: 'killed' | 'gone' }
  | { kind: 'start-timeout'; timeoutMs: number }
  | { kind: 'dependency'; service: string }
  | { kind: 'health'; output?: string }
  | { kind: 'watchdog'; lastHeartbeat?: string }
  | { kind: 'adopted'; pid: number };

export type CauseKind = Cause['kind'];

/** One line of English for a cause, for `why`, `events` and the live view. */
export function describeCause(cause: Cause): string {
  switch (cause.kind) {
    case 'exit':
      return cause.code === 0 ? 'exited with code 0' : `exited with code ${cause.code}`;
    case 'signal':
      return `killed by ${cause.signal}`;
    case 'spawn-error':
      return `could not start: ${cause.message} (${cause.errno})`;
    case 'admin': {
      const who = cause.user ?? (cause.uid === null ? 'unknown user' : `uid ${cause.uid}`);
      const reason = cause.reason ? `: "${cause.reason}"` : '';
      return `${cause.command} by ${who} via ${cause.socket}${reason}`;
    }
    case 'config':
      return `service file ${cause.change}${cause.file ? ` (${cause.file})` : ''}`;
    case 'restart':
      return cause.delayMs === 0 ? `restart #${cause.attempt} at once` : `restart after ${formatMs(cause.delayMs)} backoff (attempt ${cause.attempt})`;
    case 'shutdown':
      return `daemon shutting down${cause.signal ? ` (${cause.signal})` : ''}`;
    case 'boot':
      return cause.enabled ? 'daemon started; service enabled' : 'daemon started; service disabled';
    case 'recovered':
      return cause.action === 'killed'
        ? `leftover pid ${cause.pid} of a previous daemon killed`
        : `leftover pid ${cause.pid} of a previous daemon already gone`;
    case 'start-timeout':
      return `not ready within ${formatMs(cause.timeoutMs)}`;
    case 'dependency':
      return `dependency ${cause.service}`;
    case 'health':
      return `health check failed${cause.output ? `: ${cause.output}` : ''}`;
    case 'watchdog':
      return `watchdog timeout${cause.lastHeartbeat ? ` (last heartbeat ${cause.lastHeartbeat})` : ''}`;
    case 'adopted':
      return `adopted pid ${cause.pid}`;
    default: {
      const unreachable: never = cause;
      return String(unreachable);
    }
  }
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)}s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(ms % 60_000 === 0 ? 0 : 1)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

/** The cause for a process that ended: a signal wins over the code. */
export function exitCause(code: number | null, signal: string | null): Cause {
  if (signal !== null) return { kind: 'signal', signal };
  return { kind: 'exit', code: code ?? 0 };
}
