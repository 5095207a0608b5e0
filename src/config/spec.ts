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
  /** Mode of Unix socket files. */
  mode: number;
  /** Owner of Unix socket files: root's files only ("user" or "user:group"). */
  owner?: string;
  /** lazy: bind at daemon start, start the service on the first connection; eager: start at once. */
  activate: 'lazy' | 'eager';
  /** LISTEN_FDNAMES, one per address; the service name by default. */
  names: string[];
  backlog: number;
}

/** Resource limits; rlimits are set soft = hard, memory and pids need a cgroup. */
export interface LimitsSpec {
  nofile?: number | 'infinity';
  nproc?: number | 'infinity';
  core?: number | 'infinity';
  /** Bytes. */
  memory?: number;
  pids?: number;
}

/** Who a service runs as, resolved from the password and group files at load. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
  /** Supplementary groups, primary included. */
  groups: number[];
  home: string;
  shell: string;
}

export interface ServiceSpec {
  /**
   * The daemon-wide name: the file name without `.toml` (`web`, `web@1` for an instance of
   * `web@.toml`), prefixed with `TENANT/` for a tenant's service.
   */
  name: string;
  /** The tenant whose folder holds the file; undefined for the daemon's own config. */
  tenant?: string;
  /** For an instance of a template: the template file name without `@.toml`, and the instance. */
  template?: { name: string; instance: string };
  /** Absolute path of the service file. */
  file: string;
  command: string[];
  /** Absolute; defaults to the config folder. */
  directory: string;
  environment: Record<string, string>;
  user?: string;
  group?: string;
  /** Resolved `user`/`group` (or the tenant); undefined: the daemon's own user. */
  runAs?: RunAs;
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
  /** Order in a start storm, higher first. */
  priority: number;
  umask?: number;
  nice?: number;
  limits: LimitsSpec;
  health?: HealthSpec;
  socket?: SocketSpec;
  log: LogPolicy;
}
