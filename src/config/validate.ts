/**
 * Turns one parsed service file into a ServiceSpec, or into every error it contains: a user
 * fixing a file should see all of its problems at once, not one per `upkeep check`. Defaults come
 * from schema.ts as written in a file and go through the same checks as user values. Every error
 * names the file, the line (see locate.ts), the key and the bad value. Per-key checks live in
 * section.ts; this module owns the rules that span keys (backoff initial <= max, exactly one
 * health check, ready = "health" needs [health]). Nothing here touches the file system: the
 * caller passes the text, the parsed table and the config folder.
 */
import path from 'node:path';
import { ConfigError, type UpkeepError } from '../errors.js';
import { parseListenAddress } from './listen-address.js';
import type { HealthSpec, LimitsSpec, ReadyMode, RestartPolicy, RunAs, ServiceSpec, SocketSpec } from './spec.js';
import { locateKey } from './locate.js';
import { SERVICE_KEYS } from './schema.js';
import { COMMAND_EXAMPLE, isValidName, NAME_HINT, Section, type Report, type Table } from './section.js';

/** Where a file comes from: the daemon's own config, or a tenant's folder (stricter rules). */
export interface FileContext {
  /** The tenant: their services are named TENANT/NAME and always run as them. */
  tenant?: RunAs;
  /** Resolves `user` and `group` of root's files; absent: the names are kept unresolved. */
  lookupUser?(name: string): RunAs | undefined;
  lookupGroup?(name: string): number | undefined;
}

/** Variables upkeep sets for the protocols it speaks; a file setting them would break them. */
const PROTOCOL_VARIABLES = ['NOTIFY_SOCKET', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', 'WATCHDOG_USEC', 'WATCHDOG_PID'];

export interface ValidateResult {
  spec?: ServiceSpec;
  errors: ConfigError[];
}

function validateHealth(health: Section, report: Report): HealthSpec | undefined {
  const checks = { http: health.url('http'), tcp: health.address('tcp'), exec: health.command('exec') };
  const expect = health.string('expect');
  const intervalMs = health.duration('interval');
  const timeoutMs = health.duration('timeout');
  const failures = health.integer('failures');
  const successes = health.integer('successes');
  const graceMs = health.duration('grace');
  health.assertAllRead();
  const given = (['http', 'tcp', 'exec'] as const).filter((kind) => health.has(kind));
  if (given.length !== 1) {
    report(['health'], `health: needs exactly one of http, tcp or exec, got ${given.length === 0 ? 'none' : given.join(' and ')}`);
  }
  if (expect !== undefined && health.has('exec')) report(['health', 'expect'], 'health.expect: works with http and tcp checks, not exec');
  if (intervalMs === undefined || timeoutMs === undefined || failures === undefined) return undefined;
  if (successes === undefined || graceMs === undefined) return undefined;
  const spec: HealthSpec = { intervalMs, timeoutMs, failures, successes, graceMs };
  if (checks.http !== undefined) spec.http = checks.http;
  if (checks.tcp !== undefined) spec.tcp = checks.tcp;
  if (checks.exec !== undefined) spec.exec = checks.exec;
  if (expect !== undefined) spec.expect = expect;
  return spec;
}

/** `user` and `group` of root's own files, resolved to ids (with the user's groups). */
function resolveRunAs(user: string | undefined, group: string | undefined, context: FileContext, report: Report): RunAs | undefined {
  if (user === undefined) {
    if (group !== undefined) report(['group'], 'group: needs a user too', 'add user = "NAME" next to it');
    return undefined;
  }
  if (context.lookupUser === undefined) return undefined;
  const found = context.lookupUser(user);
  if (found === undefined) {
    report(['user'], `user: no user named ${JSON.stringify(user)}`, 'create the user (useradd) or fix the name');
    return undefined;
  }
  if (group === undefined) return found;
  const gid = context.lookupGroup?.(group);
  if (gid === undefined) {
    report(['group'], `group: no group named ${JSON.stringify(group)}`, 'create the group (groupadd) or fix the name');
    return undefined;
  }
  return { ...found, gid, groups: [...new Set([gid, ...found.groups])] };
}

function validateLimits(limits: Section): LimitsSpec | undefined {
  const out: LimitsSpec = {};
  const nofile = limits.limit('nofile');
  const nproc = limits.limit('nproc');
  const core = limits.limit('core');
  const memory = limits.size('memory');
  const pids = limits.integer('pids');
  limits.assertAllRead();
  if (nofile !== undefined) out.nofile = nofile;
  if (nproc !== undefined) out.nproc = nproc;
  if (core !== undefined) out.core = core;
  if (memory !== undefined) out.memory = memory;
  if (pids !== undefined) out.pids = pids;
  return out;
}

function validateSocket(socket: Section, name: string, context: FileContext, report: Report): SocketSpec | undefined {
  const listen = socket.strings('listen');
  const activate = socket.oneOf('activate') as SocketSpec['activate'] | undefined;
  const mode = socket.octal('mode');
  const owner = socket.string('owner');
  const names = socket.strings('names');
  const backlog = socket.integer('backlog');
  socket.assertAllRead();
  if (listen !== undefined && listen.length === 0) {
    report(['socket', ...(socket.has('listen') ? ['listen'] : [])], 'socket.listen: needs at least one address', 'like listen = ["127.0.0.1:9000"]');
    return undefined;
  }
  let ok = true;
  for (const address of listen ?? []) {
    try {
      parseListenAddress(address);
    } catch (err) {
      ok = false;
      report(['socket', 'listen'], `socket.listen: ${(err as Error).message.replace(/^listen /, '')}`, (err as UpkeepError).hint);
    }
  }
  if (owner !== undefined && context.tenant !== undefined) {
    ok = false;
    report(['socket', 'owner'], `socket.owner: a tenant's sockets always belong to the tenant (${context.tenant.user})`, 'remove the key');
  } else if (owner !== undefined && !/^[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?$/.test(owner)) {
    ok = false;
    report(['socket', 'owner'], `socket.owner: bad owner ${JSON.stringify(owner)}`, 'use "user" or "user:group"');
  }
  if (names !== undefined && socket.has('names') && listen !== undefined && names.length !== listen.length) {
    ok = false;
    report(['socket', 'names'], `socket.names: ${names.length} name(s) for ${listen.length} address(es)`, 'give one name per address in listen');
  }
  for (const fdName of names ?? []) {
    if (!/^[A-Za-z0-9_.@-]{1,255}$/.test(fdName)) {
      ok = false;
      report(['socket', 'names'], `socket.names: bad name ${JSON.stringify(fdName)}`, 'use letters, digits and _ . @ - (no ":")');
    }
  }
  if (!ok || listen === undefined || activate === undefined || mode === undefined || names === undefined || backlog === undefined) return undefined;
  const spec: SocketSpec = { listen, activate, mode, names: socket.has('names') ? names : listen.map(() => name), backlog };
  if (owner !== undefined) spec.owner = owner;
  return spec;
}

/**
 * Validates the parsed table of one service file. `file` is the file as it is shown in messages;
 * `rawText` is its text (for line numbers); relative `directory` values resolve against `configDir`.
 */
export function validate(
  name: string,
  file: string,
  parsed: Table,
  rawText: string,
  configDir: string,
  context: FileContext = {},
): ValidateResult {
  const errors: ConfigError[] = [];
  const report: Report = (keyPath, detail, hint) => {
    const line = keyPath.length === 0 ? undefined : locateKey(rawText, keyPath);
    errors.push(new ConfigError(file, detail, { line, key: keyPath.length === 0 ? undefined : keyPath.join('.'), hint }));
  };
  if (!isValidName(name)) report([], `bad service name ${JSON.stringify(name)} (the file name without .toml)`, NAME_HINT);

  const top = new Section(parsed, [], SERVICE_KEYS, report);
  const command = top.command('command');
  if (command === undefined && !top.has('command')) report(['command'], 'command: missing', `every service needs one, ${COMMAND_EXAMPLE}`);
  const dir = top.string('directory');
  const directory = path.resolve(configDir, dir ?? '.');
  const environment = top.environment('environment');
  const user = top.string('user');
  const group = top.string('group');
  if (context.tenant !== undefined) {
    for (const key of ['user', 'group'] as const) {
      if (top.has(key)) report([key], `${key}: a tenant's services always run as the tenant (${context.tenant.user})`, `remove the ${key} key`);
    }
  }
  for (const variable of Object.keys(environment ?? {})) {
    if (PROTOCOL_VARIABLES.includes(variable)) {
      report(['environment', variable], `environment.${variable}: is set by upkeep itself`, 'remove it; upkeep sets it for the protocol it belongs to');
    } else if (context.tenant !== undefined && variable.startsWith('UPKEEP_')) {
      report(['environment', variable], `environment.${variable}: UPKEEP_ variables belong to the daemon`, 'rename the variable');
    }
  }
  const restart = top.oneOf('restart') as RestartPolicy | undefined;
  const backoffSection = top.section('backoff');
  const ready = top.oneOf('ready') as ReadyMode | undefined;
  const startTimeoutMs = top.duration('start_timeout');
  const watchdogMs = top.duration('watchdog');
  const stopSignal = top.signal('stop_signal');
  const stopTimeoutMs = top.duration('stop_timeout');
  const after = top.strings('after', true);
  const requires = top.strings('requires', true);
  const groups = top.strings('groups', true);
  const priority = top.integer('priority');
  const umask = top.octal('umask');
  const nice = top.integer('nice');
  const limitsSection = top.section('limits');
  const healthSection = top.section('health', 'none');
  const socketSection = top.section('socket', 'none');
  const logSection = top.section('log');
  top.assertAllRead();

  const initialMs = backoffSection?.duration('initial');
  const maxMs = backoffSection?.duration('max');
  const resetAfterMs = backoffSection?.duration('reset_after');
  backoffSection?.assertAllRead();
  if (initialMs !== undefined && maxMs !== undefined && initialMs > maxMs) {
    const [initial, max] = [backoffSection?.raw('initial'), backoffSection?.raw('max')].map((v) => JSON.stringify(v));
    report(['backoff', 'initial'], `backoff.initial: ${initial} is longer than backoff.max ${max}`, 'raise max or lower initial');
  }

  const health = healthSection === undefined ? undefined : validateHealth(healthSection, report);
  if (ready === 'health' && !top.has('health')) report(['ready'], 'ready: "health" needs a [health] table', 'add [health] with http, tcp or exec');

  const runAs = context.tenant ?? resolveRunAs(user, group, context, report);
  const limits = limitsSection === undefined ? undefined : validateLimits(limitsSection);
  const socket = socketSection === undefined ? undefined : validateSocket(socketSection, name, context, report);

  const maxSize = logSection?.size('max_size');
  const keep = logSection?.integer('keep');
  logSection?.assertAllRead();

  for (const [key, list] of [['after', after], ['requires', requires]] as const) {
    if (list?.includes(name)) report([key], `${key}: a service cannot wait for itself ("${name}")`);
  }

  errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  if (errors.length > 0) return { errors };
  if (
    command === undefined || environment === undefined || restart === undefined || ready === undefined ||
    initialMs === undefined || maxMs === undefined || resetAfterMs === undefined || startTimeoutMs === undefined ||
    stopSignal === undefined || stopTimeoutMs === undefined || after === undefined || requires === undefined ||
    groups === undefined || maxSize === undefined || keep === undefined || priority === undefined || limits === undefined
  ) {
    // Unreachable: a reader returns undefined for a required key only after reporting an error.
    // Reported rather than thrown, so that a bug here cannot keep the other files from loading.
    return { errors: [new ConfigError(file, 'internal error: a value is missing but no error was reported', { code: 'internal' })] };
  }

  const spec: ServiceSpec = {
    name,
    file: path.resolve(file),
    command,
    directory,
    environment,
    restart,
    backoff: { initialMs, maxMs, resetAfterMs },
    ready,
    startTimeoutMs,
    stopSignal,
    stopTimeoutMs,
    after,
    requires,
    groups,
    priority,
    limits,
    log: { maxSize, keep },
  };
  if (context.tenant !== undefined) spec.tenant = context.tenant.user;
  if (runAs !== undefined) spec.runAs = runAs;
  if (user !== undefined) spec.user = user;
  if (group !== undefined) spec.group = group;
  if (umask !== undefined) spec.umask = umask;
  if (nice !== undefined) spec.nice = nice;
  if (watchdogMs !== undefined) spec.watchdogMs = watchdogMs;
  if (health !== undefined) spec.health = health;
  if (socket !== undefined) spec.socket = socket;
  return { errors, spec };
}
