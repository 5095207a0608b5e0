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
import { ConfigError } from '../errors.js';
import type { HealthSpec, ReadyMode, RestartPolicy, ServiceSpec, SocketSpec } from './spec.js';
import { locateKey } from './locate.js';
import { SERVICE_KEYS } from './schema.js';
import { COMMAND_EXAMPLE, isValidName, NAME_HINT, Section, type Report, type Table } from './section.js';

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

/**
 * Validates the parsed table of one service file. `file` is the file as it is shown in messages;
 * `rawText` is its text (for line numbers); relative `directory` values resolve against `configDir`.
 */
export function validate(name: string, file: string, parsed: Table, rawText: string, configDir: string): ValidateResult {
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

  let socket: SocketSpec | undefined;
  if (socketSection !== undefined) {
    const listen = socketSection.strings('listen');
    socketSection.assertAllRead();
    if (listen !== undefined && listen.length === 0) {
      report(['socket', ...(socketSection.has('listen') ? ['listen'] : [])], 'socket.listen: needs at least one address', 'like listen = ["127.0.0.1:9000"]');
    } else if (listen !== undefined) socket = { listen };
  }

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
    groups === undefined || maxSize === undefined || keep === undefined
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
    log: { maxSize, keep },
  };
  if (user !== undefined) spec.user = user;
  if (watchdogMs !== undefined) spec.watchdogMs = watchdogMs;
  if (health !== undefined) spec.health = health;
  if (socket !== undefined) spec.socket = socket;
  return { errors, spec };
}
