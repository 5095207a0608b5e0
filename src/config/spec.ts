/**
 * The validated, normalized form of one service file. Everything after config/ works on this
 * type only: nothing downstream re-reads files (durations are milliseconds, sizes are bytes).
 */
export type RestartPolicy = 'always' | 'on-failure' | 'never';
export type ReadyMode = 'started' | 'notify' | 'health';

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** A run at least this long resets the backoff: the next crash restarts at once. */
  resetAfterMs: number;
}

export interface LogPolicy {
  /** Bytes per log file before it is rotated. */
  maxSize: number;
  /** Files kept in all, the current one included: a service's logs never exceed maxSize × keep. */
  keep: number;
}

export interface HealthSpec {
  http?: string;
  tcp?: string;
  expect?: string;
  exec?: string[];
  intervalMs: number;
  timeoutMs: number;
  failures: number;
  /** Consecutive passes before a `ready = "health"` service counts as ready. */
  successes: number;
  /** Failures within this time after a spawn do not count. */
  graceMs: number;
}

export interface SocketSpec {
  listen: string[];
}

export interface ServiceSpec {
  /** File name without `.toml`. */
  name: string;
  /** Absolute path of the service file. */
  file: string;
  command: string[];
  /** Absolute; defaults to the config folder. */
  directory: string;
  environment: Record<string, string>;
  user?: string;
  restart: RestartPolicy;
  backoff: BackoffPolicy;
  ready: ReadyMode;
  startTimeoutMs: number;
  watchdogMs?: number;
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  after: string[];
  requires: string[];
  groups: string[];
  health?: HealthSpec;
  socket?: SocketSpec;
  log: LogPolicy;
}
