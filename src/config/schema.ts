/**
 * Every key a service file may contain, declared once: its type, its default (as it would be
 * written in the file, so that defaults go through the same parser as user values) and one line
 * of documentation. The validator, the "did you mean" hints and the README table all read this
 * declaration; nothing else lists keys. A key declared here but not read by validate.ts makes
 * validation throw (see Section.assertAllRead), so the two cannot drift apart unnoticed.
 */

export type KeyType =
  | 'command' // array of strings (no shell), or a string split like a shell would
  | 'string'
  | 'path' // relative paths resolve against the config folder
  | 'environment' // table of string values
  | 'enum'
  | 'signal'
  | 'duration'
  | 'size'
  | 'integer'
  | 'names' // array of service or group names
  | 'strings'
  | 'url'
  | 'address' // host:port
  | 'octal' // a file mode or umask written as a string, like "0022"
  | 'limit' // an integer or "infinity"
  | 'table';

export interface KeyDecl {
  readonly type: KeyType;
  /** The default as written in a file; absent means the key is optional with no value. */
  readonly default?: string | number;
  /** Shown in the README when the default is not a literal (it depends on where the file is). */
  readonly defaultText?: string;
  readonly doc: string;
  /** Allowed values of an enum. */
  readonly values?: readonly string[];
  /** Lower bound of an integer, or of a duration/size in ms/bytes. */
  readonly min?: number;
  /** Upper bound of an integer or octal value. */
  readonly max?: number;
  /** Keys of a table. */
  readonly keys?: Readonly<Record<string, KeyDecl>>;
}

export const SERVICE_KEYS: Readonly<Record<string, KeyDecl>> = {
  command: { type: 'command', doc: 'Program and arguments (required); an array runs without a shell' },
  directory: { type: 'path', defaultText: 'the config folder', doc: 'Working directory; relative to the config folder' },
  environment: { type: 'environment', defaultText: '{}', doc: 'Extra environment variables; values are strings' },
  user: { type: 'string', doc: "User to run as (root's config only; tenants' services run as the tenant)" },
  group: { type: 'string', defaultText: "the user's primary group", doc: "Group to run as (root's config only)" },
  restart: {
    type: 'enum',
    values: ['always', 'on-failure', 'never'],
    default: 'always',
    doc: 'When to restart after an exit; restarts never stop, they back off',
  },
  backoff: {
    type: 'table',
    doc: 'Delay between restarts: doubles from initial up to max, with jitter',
    keys: {
      initial: { type: 'duration', default: '100ms', doc: 'Delay before the second quick restart' },
      max: { type: 'duration', default: '1m', min: 1, doc: 'Longest delay between restarts' },
      reset_after: { type: 'duration', default: '10s', doc: 'A run this long resets the delay: the next crash restarts at once' },
    },
  },
  ready: {
    type: 'enum',
    values: ['started', 'notify', 'health'],
    default: 'started',
    doc: 'When the service counts as ready: on spawn, on sd_notify READY=1, or on a passing health check',
  },
  start_timeout: { type: 'duration', default: '30s', min: 1, doc: 'Time to become ready before the start is killed and retried' },
  watchdog: { type: 'duration', min: 1, doc: 'sd_notify WATCHDOG=1 expected at least this often' },
  stop_signal: { type: 'signal', default: 'SIGTERM', doc: 'First signal sent to the process group on stop' },
  stop_timeout: { type: 'duration', default: '10s', doc: 'Time after stop_signal before SIGKILL' },
  after: { type: 'names', defaultText: '[]', doc: 'Start after these services are ready' },
  requires: { type: 'names', defaultText: '[]', doc: 'Start only while these services are running' },
  groups: { type: 'names', defaultText: '[]', doc: 'Groups this service belongs to (upkeep start @group); root\'s `core` group starts first' },
  priority: { type: 'integer', default: 0, doc: 'Start order in a start storm, higher first (within the tenant\'s own turn)' },
  umask: { type: 'octal', max: 0o777, defaultText: "the daemon's", doc: 'File mode creation mask, like "0027"' },
  nice: { type: 'integer', min: -20, max: 19, defaultText: "the daemon's", doc: 'Scheduling priority, -20 (first) to 19 (last)' },
  limits: {
    type: 'table',
    doc: 'Resource limits: rlimits (soft = hard), memory and pids through a cgroup where the machine allows',
    keys: {
      nofile: { type: 'limit', min: 1, doc: 'Open files (RLIMIT_NOFILE)' },
      nproc: { type: 'limit', min: 1, doc: "Processes of the service's user (RLIMIT_NPROC)" },
      core: { type: 'limit', doc: 'Core dump size in bytes (RLIMIT_CORE); 0 disables core dumps' },
      memory: { type: 'size', min: 1, doc: 'Memory of the whole service (cgroup memory limit)' },
      pids: { type: 'integer', min: 1, doc: 'Processes and threads of the whole service (cgroup pids limit)' },
    },
  },
  health: {
    type: 'table',
    doc: 'Liveness check: repeated failures kill and restart the service; needs one of http, tcp, exec',
    keys: {
      http: { type: 'url', doc: 'GET this URL; a 2xx or 3xx answer passes' },
      tcp: { type: 'address', doc: 'Connect to this host:port' },
      expect: { type: 'string', doc: 'With tcp or http: the reply must contain this text' },
      exec: { type: 'command', doc: 'Run this command; exit code 0 passes' },
      interval: { type: 'duration', default: '10s', min: 1, doc: 'Time between checks' },
      timeout: { type: 'duration', default: '2s', min: 1, doc: 'A check slower than this fails' },
      failures: { type: 'integer', default: 3, min: 1, doc: 'Consecutive failures that restart the service' },
      successes: { type: 'integer', default: 1, min: 1, doc: 'Consecutive passes that make a `ready = "health"` service ready' },
      grace: { type: 'duration', default: '0s', doc: 'Failures in this time after a start do not count' },
    },
  },
  socket: {
    type: 'table',
    doc: 'Socket activation: passed as LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES',
    keys: {
      listen: { type: 'strings', doc: 'Addresses to listen on: "host:port" or an absolute socket path (required)' },
      activate: {
        type: 'enum',
        values: ['lazy', 'eager'],
        default: 'lazy',
        doc: 'lazy: start the service on the first connection; eager: start it at once',
      },
      mode: { type: 'octal', default: '0666', max: 0o777, doc: 'Mode of socket files' },
      owner: { type: 'string', doc: 'Owner of socket files, "user" or "user:group" (root\'s config only; a tenant owns theirs)' },
      names: { type: 'strings', defaultText: 'the service name', doc: 'LISTEN_FDNAMES, one per address' },
      backlog: { type: 'integer', default: 128, min: 1, doc: 'Connections queued while the service is not accepting' },
    },
  },
  log: {
    type: 'table',
    doc: 'Log rotation of stdout and stderr',
    keys: {
      max_size: { type: 'size', default: '10MiB', min: 1, doc: 'Size of a log file before it is rotated' },
      keep: { type: 'integer', default: 5, min: 1, doc: 'Files kept, the current one included' },
    },
  },
};

/**
 * Names that people bring from other supervisors (supervisord, PM2, systemd, docker-compose) and
 * the key that does the job here. Edit distance cannot find these, so they are listed.
 */
export const KEY_ALIASES: Readonly<Record<string, string>> = {
  cmd: 'command',
  exec: 'command',
  exec_start: 'command',
  execstart: 'command',
  script: 'command',
  args: 'command',
  env: 'environment',
  cwd: 'directory',
  workdir: 'directory',
  working_dir: 'directory',
  working_directory: 'directory',
  dir: 'directory',
  restart_delay: 'backoff',
  restart_sec: 'backoff',
  restartsec: 'backoff',
  max_restarts: 'backoff',
  autorestart: 'restart',
  depends_on: 'requires',
  dependencies: 'requires',
  wants: 'after',
  group: 'groups',
  kill_signal: 'stop_signal',
  stopsignal: 'stop_signal',
  stopwaitsecs: 'stop_timeout',
  kill_timeout: 'stop_timeout',
  healthcheck: 'health',
  health_check: 'health',
  listen: 'socket.listen',
  logs: 'log',
};

/** Optimal string alignment distance: like Levenshtein, but a swap of neighbours costs 1. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidate closest to `word` (ignoring case, `-` vs `_`), if it is close enough to be a typo. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const fold = (s: string): string => s.toLowerCase().replaceAll('-', '_');
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(fold(word), fold(candidate));
    // A third of the length: "restrat" finds "restart", "sometimes" finds nothing.
    if (distance < bestDistance && distance <= Math.max(1, Math.floor(candidate.length / 3))) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * What an unknown key probably meant, as a dotted path ("backoff", "log.keep"), or undefined.
 * `prefix` is the table the key was found in ([] for the top level).
 */
export function suggestKey(key: string, prefix: readonly string[]): string | undefined {
  let level: Readonly<Record<string, KeyDecl>> | undefined = SERVICE_KEYS;
  for (const part of prefix) level = level?.[part]?.keys;
  if (level === undefined) return undefined;
  const dotted = (k: string): string => [...prefix, k].join('.');
  const alias = prefix.length === 0 ? KEY_ALIASES[key.toLowerCase()] : undefined;
  if (alias !== undefined) return alias;
  const close = closestMatch(key, Object.keys(level));
  if (close !== undefined) return dotted(close);
  if (prefix.length > 0) return undefined;
  // A table's key written at the top level ("keep = 5" for log.keep).
  for (const [table, decl] of Object.entries(SERVICE_KEYS)) {
    const inner = decl.keys === undefined ? undefined : closestMatch(key, Object.keys(decl.keys));
    if (inner !== undefined) return `${table}.${inner}`;
  }
  return undefined;
}

function typeText(decl: KeyDecl): string {
  switch (decl.type) {
    case 'command':
      return 'array or string';
    case 'enum':
      return (decl.values ?? []).map((v) => `"${v}"`).join(' \\| ');
    case 'environment':
      return 'table of strings';
    case 'names':
      return 'array of names';
    case 'strings':
      return 'array of strings';
    case 'signal':
      return 'signal name';
    case 'address':
      return 'host:port';
    case 'url':
      return 'URL';
    case 'octal':
      return 'octal string';
    case 'limit':
      return 'integer or "infinity"';
    default:
      return decl.type;
  }
}

function defaultText(decl: KeyDecl): string {
  if (decl.default !== undefined) return typeof decl.default === 'string' ? `\`"${decl.default}"\`` : `\`${decl.default}\``;
  if (decl.defaultText === undefined) return '';
  return /^[[{]/.test(decl.defaultText) ? `\`${decl.defaultText}\`` : decl.defaultText;
}

/** The README table of keys: `key | type | default | description`, tables followed by their keys. */
export function renderKeyTable(): string {
  const rows = ['| key | type | default | description |', '|---|---|---|---|'];
  const row = (key: string, decl: KeyDecl): void => {
    rows.push(`| \`${key}\` | ${typeText(decl)} | ${defaultText(decl)} | ${decl.doc.replaceAll('|', '\\|')} |`);
  };
  for (const [key, decl] of Object.entries(SERVICE_KEYS)) {
    row(decl.type === 'table' ? `[${key}]` : key, decl);
    for (const [inner, innerDecl] of Object.entries(decl.keys ?? {})) row(`${key}.${inner}`, innerDecl);
  }
  return `${rows.join('\n')}\n`;
}
