/**
 * Service files (guarantee 7: a broken file names the file, the line and the key, and never keeps
 * the good files from loading). Real files in a temp folder, parsed end to end.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseDuration, parseSize, tryParseDuration, tryParseSize } from '../../src/config/duration.js';
import { loadConfigDir } from '../../src/config/load.js';
import { locateKey } from '../../src/config/locate.js';
import { parseServiceFile } from '../../src/config/parse.js';
import { renderKeyTable, SERVICE_KEYS, suggestKey } from '../../src/config/schema.js';
import { splitCommand } from '../../src/config/split-command.js';

let root: string;
let counter = 0;

before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'upkeep-config-'));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A fresh folder per case, so that file names can repeat. */
function freshDir(): string {
  const dir = path.join(root, `case-${++counter}`);
  mkdirSync(dir);
  return dir;
}

function writeService(fileName: string, text: string, dir = freshDir()): { file: string; dir: string } {
  const file = path.join(dir, fileName);
  writeFileSync(file, text);
  return { file, dir };
}

/** Parses `text` as web.toml; returns the file path and the error messages. */
function errorsFor(text: string, fileName = 'web.toml'): { file: string; messages: string[]; keys: (string | undefined)[] } {
  const { file, dir } = writeService(fileName, text);
  const result = parseServiceFile(file, dir);
  assert.equal(result.spec, undefined, 'a file with errors must not produce a spec');
  return { file, messages: result.errors.map((e) => e.message), keys: result.errors.map((e) => e.key) };
}

const FULL = `# web.toml
command = ["node", "server.js"]
directory = "app"
environment = { PORT = "8080", NODE_ENV = "production" }
user = "web"
restart = "on-failure"
backoff = { initial = "250ms", max = "1m30s", reset_after = "30s" }
ready = "notify"
start_timeout = "45s"
watchdog = "10s"
stop_signal = "INT"
stop_timeout = "5s"
after = ["db"]
requires = ["db"]
groups = ["core", "web@1"]
priority = 5
umask = "0027"
nice = -5

[limits]
nofile = 65536
core = "infinity"
memory = "512MiB"
pids = 100

[health]
http = "http://127.0.0.1:8080/healthz"
interval = "5s"
timeout = "500ms"
failures = 2

[socket]
listen = ["127.0.0.1:9000", "/run/app.sock"]
mode = "0660"

[log]
max_size = "512KiB"
keep = 3
`;

describe('valid files', () => {
  test('a full file becomes a normalized spec (ms, bytes, absolute paths)', () => {
    const { file, dir } = writeService('web.toml', FULL);
    const result = parseServiceFile(file, dir);
    assert.deepEqual(result.errors, []);
    assert.equal(result.name, 'web');
    assert.deepEqual(result.spec, {
      name: 'web',
      file,
      command: ['node', 'server.js'],
      directory: path.join(dir, 'app'),
      environment: { PORT: '8080', NODE_ENV: 'production' },
      user: 'web',
      restart: 'on-failure',
      backoff: { initialMs: 250, maxMs: 90_000, resetAfterMs: 30_000 },
      ready: 'notify',
      startTimeoutMs: 45_000,
      watchdogMs: 10_000,
      stopSignal: 'SIGINT',
      stopTimeoutMs: 5_000,
      after: ['db'],
      requires: ['db'],
      groups: ['core', 'web@1'],
      priority: 5,
      umask: 0o027,
      nice: -5,
      limits: { nofile: 65536, core: 'infinity', memory: 512 * 1024 * 1024, pids: 100 },
      health: { http: 'http://127.0.0.1:8080/healthz', intervalMs: 5_000, timeoutMs: 500, failures: 2, successes: 1, graceMs: 0 },
      socket: { listen: ['127.0.0.1:9000', '/run/app.sock'], activate: 'lazy', mode: 0o660, names: ['web', 'web'], backlog: 128 },
      log: { maxSize: 512 * 1024, keep: 3 },
    });
  });

  test('a minimal file gets every default', () => {
    const { file, dir } = writeService('worker.toml', 'command = "sleep 100"\n');
    const { spec, errors } = parseServiceFile(file, dir);
    assert.deepEqual(errors, []);
    assert.deepEqual(spec, {
      name: 'worker',
      file,
      command: ['sleep', '100'],
      directory: dir,
      environment: {},
      restart: 'always',
      backoff: { initialMs: 100, maxMs: 60_000, resetAfterMs: 10_000 },
      ready: 'started',
      startTimeoutMs: 30_000,
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 10_000,
      after: [],
      requires: [],
      groups: [],
      priority: 0,
      limits: {},
      log: { maxSize: 10 * 1024 * 1024, keep: 5 },
    });
  });

  test('tables may be written either way; health defaults apply; tcp with expect', () => {
    const text = 'command = ["sshd"]\ndirectory = "/srv"\n[backoff]\nmax = "5m"\n[health]\ntcp = "127.0.0.1:22"\nexpect = "SSH-"\n';
    const { file, dir } = writeService('sshd.toml', text);
    const { spec, errors } = parseServiceFile(file, dir);
    assert.deepEqual(errors, []);
    assert.equal(spec?.directory, '/srv');
    assert.deepEqual(spec?.backoff, { initialMs: 100, maxMs: 300_000, resetAfterMs: 10_000 });
    assert.deepEqual(spec?.health, { tcp: '127.0.0.1:22', expect: 'SSH-', intervalMs: 10_000, timeoutMs: 2_000, failures: 3, successes: 1, graceMs: 0 });
  });

  test('stop_signal accepts TERM, SIGTERM and lower case, and normalizes to SIGTERM form', () => {
    for (const [written, normalized] of [['TERM', 'SIGTERM'], ['SIGTERM', 'SIGTERM'], ['sighup', 'SIGHUP'], ['quit', 'SIGQUIT']]) {
      const { file, dir } = writeService('s.toml', `command = ["x"]\nstop_signal = "${written}"\n`);
      assert.equal(parseServiceFile(file, dir).spec?.stopSignal, normalized);
    }
  });

  test('health exec may be a string, split like command', () => {
    const { file, dir } = writeService('h.toml', 'command = ["x"]\n[health]\nexec = "check --quiet \'a b\'"\n');
    assert.deepEqual(parseServiceFile(file, dir).spec?.health?.exec, ['check', '--quiet', 'a b']);
  });
});

describe('malformed files name the file, line and key', () => {
  test('unknown key, with a "did you mean" hint from the common-mistakes list', () => {
    const { file, messages, keys } = errorsFor('command = ["x"]\n\n\n\n\n\nrestart_delay = "5s"\n');
    assert.deepEqual(messages, [`${file}:7: unknown key "restart_delay"; did you mean "backoff"?`]);
    assert.deepEqual(keys, ['restart_delay']);
  });

  test('unknown keys: typos, aliases, inline tables, [tables], top-level keys of a table', () => {
    const cases: [string, string, string][] = [
      ['comand = ["x"]\ncommand = ["y"]\n', '1', 'unknown key "comand"; did you mean "command"?'],
      ['command = ["x"]\nenv = { A = "1" }\n', '2', 'unknown key "env"; did you mean "environment"?'],
      ['command = ["x"]\ncwd = "/tmp"\n', '2', 'unknown key "cwd"; did you mean "directory"?'],
      ['command = ["x"]\nbackoff = { initial = "1s", maxx = "2m" }\n', '2', 'unknown key "backoff.maxx"; did you mean "backoff.max"?'],
      ['command = ["x"]\n[health]\nhttp = "http://x/"\nintervall = "5s"\n', '4', 'unknown key "health.intervall"; did you mean "health.interval"?'],
      ['command = ["x"]\nkeep = 3\n', '2', 'unknown key "keep"; did you mean "log.keep"?'],
      ['command = ["x"]\nflavour = "x"\n', '2', 'unknown key "flavour"'],
    ];
    for (const [text, line, message] of cases) {
      const { file, messages } = errorsFor(text);
      assert.deepEqual(messages, [`${file}:${line}: ${message}`], text);
    }
  });

  test('wrong types name the expected type and what was found', () => {
    const cases: [string, string, string][] = [
      ['command = ["x"]\nrestart = 1\n', 'restart', '2: restart: expected one of "always", "on-failure", "never", got 1 (integer)'],
      ['command = ["x"]\nafter = "db"\n', 'after', '2: after: expected an array of strings, got "db" (string)'],
      ['command = 42\n', 'command', '1: command: expected an array of strings or a string, got 42 (integer); like command = ["node", "server.js"]'],
      ['command = ["x", 2]\n', 'command', '1: command: expected a string in command[1], got 2 (integer)'],
      ['command = ["x"]\nuser = true\n', 'user', '2: user: expected a string, got true (boolean)'],
      ['command = ["x"]\nbackoff = "1s"\n', 'backoff', '2: backoff: expected a table like [backoff], got "1s" (string)'],
      ['command = ["x"]\nstop_timeout = 10\n', 'stop_timeout', '2: stop_timeout: expected a duration, got 10 (integer); add a unit and quotes, like stop_timeout = "10s"'],
      ['command = ["x"]\n[log]\nkeep = "3"\n', 'log.keep', '3: log.keep: expected an integer, got "3" (string); remove the quotes: keep = 3'],
      ['command = ["x"]\n[log]\nkeep = 1.5\n', 'log.keep', '3: log.keep: expected an integer >= 1, got 1.5 (float)'],
    ];
    for (const [text, key, message] of cases) {
      const { file, messages, keys } = errorsFor(text);
      assert.deepEqual(messages, [`${file}:${message}`], text);
      assert.deepEqual(keys, [key]);
    }
  });

  test('bad duration and bad size', () => {
    let r = errorsFor('command = ["x"]\nrestart = "always"\nstop_timeout = "10 sec"\n');
    assert.deepEqual(r.messages, [`${r.file}:3: stop_timeout: bad duration "10 sec"; use a number with ms, s, m or h, like "10s"`]);
    assert.deepEqual(r.keys, ['stop_timeout']);
    r = errorsFor('command = ["x"]\n[log]\nmax_size = "10 MB"\n');
    assert.deepEqual(r.messages, [`${r.file}:3: log.max_size: bad size "10 MB"; use a number with B, KB, MB, GB, KiB, MiB or GiB, like "10MiB"`]);
    assert.deepEqual(r.keys, ['log.max_size']);
    r = errorsFor('command = ["x"]\nbackoff = { initial = "soon" }\n');
    assert.deepEqual(r.messages, [`${r.file}:2: backoff.initial: bad duration "soon"; use a number with ms, s, m or h, like "10s"`]);
    r = errorsFor('command = ["x"]\nwatchdog = "0s"\n');
    assert.deepEqual(r.messages, [`${r.file}:2: watchdog: must be longer than 0, got "0s"`]);
  });

  test('empty command: missing, empty array, empty string, empty program', () => {
    const hint = 'name the program to run, like command = ["node", "server.js"]';
    const cases: [string, string][] = [
      ['restart = "always"\n', `: command: missing; every service needs one, like command = ["node", "server.js"]`],
      ['command = []\n', `:1: command: is an empty array; ${hint}`],
      ['\ncommand = "   "\n', `:2: command: is an empty string; ${hint}`],
      ['command = ["", "x"]\n', ':1: command: the program (first element) is empty; like command = ["node", "server.js"]'],
    ];
    for (const [text, message] of cases) {
      const { file, messages, keys } = errorsFor(text);
      assert.deepEqual(messages, [`${file}${message}`], text);
      assert.deepEqual(keys, ['command']);
    }
  });

  test('unbalanced quote in a command string', () => {
    const { file, messages } = errorsFor('command = "node \'server.js"\n');
    assert.deepEqual(messages, [
      `${file}:1: command: unbalanced ' quote in "node 'server.js"; quote it right, or use an array like command = ["node", "server.js"]`,
    ]);
  });

  test('bad signal, with a suggestion when close', () => {
    let r = errorsFor('command = ["x"]\nstop_signal = "SIGFOO"\n');
    assert.deepEqual(r.messages, [`${r.file}:2: stop_signal: unknown signal "SIGFOO"; use a name like "SIGTERM", "SIGINT" or "SIGQUIT"`]);
    assert.deepEqual(r.keys, ['stop_signal']);
    r = errorsFor('command = ["x"]\nstop_signal = "SIGTREM"\n');
    assert.deepEqual(r.messages, [`${r.file}:2: stop_signal: unknown signal "SIGTREM"; did you mean "SIGTERM"?`]);
  });

  test('bad restart and ready values', () => {
    let r = errorsFor('command = ["x"]\n\n\nrestart = "sometimes"\n');
    assert.deepEqual(r.messages, [`${r.file}:4: restart: expected one of "always", "on-failure", "never", got "sometimes"`]);
    assert.deepEqual(r.keys, ['restart']);
    r = errorsFor('command = ["x"]\nrestart = "on_failure"\n');
    assert.deepEqual(r.messages, [`${r.file}:2: restart: expected one of "always", "on-failure", "never", got "on_failure"; did you mean "on-failure"?`]);
    r = errorsFor('command = ["x"]\nready = "health"\n');
    assert.deepEqual(r.messages, [`${r.file}:2: ready: "health" needs a [health] table; add [health] with http, tcp or exec`]);
  });

  test('environment values must be strings and names must be variable names', () => {
    let r = errorsFor('command = ["x"]\nenvironment = { PORT = 8080 }\n');
    assert.deepEqual(r.messages, [`${r.file}:2: environment.PORT: expected a string, got 8080 (integer); quote it: PORT = "8080"`]);
    assert.deepEqual(r.keys, ['environment.PORT']);
    r = errorsFor('command = ["x"]\n[environment]\nOK = "1"\nDEBUG = true\n"MY-VAR" = "x"\n');
    assert.deepEqual(r.messages, [
      `${r.file}:4: environment.DEBUG: expected a string, got true (boolean); quote it: DEBUG = "true"`,
      `${r.file}:5: environment: bad variable name "MY-VAR"; use letters, digits and _, not starting with a digit`,
    ]);
  });

  test('TOML syntax error carries the line from the parser', () => {
    const { file, messages } = errorsFor('command = ["x"]\nrestart = "always"\nready = \n');
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, new RegExp(`^${escape(file)}:3: TOML syntax error: `));
    const { file: file2, messages: m2 } = errorsFor('command = ["x"]\ncommand = ["y"]\n');
    assert.match(m2[0]!, new RegExp(`^${escape(file2)}:2: TOML syntax error: .*redefine`));
  });

  test('bad service name (from the file name)', () => {
    for (const fileName of ['-web.toml', 'my web.toml', 'web!.toml']) {
      const { file, messages } = errorsFor('command = ["x"]\n', fileName);
      const name = path.basename(fileName, '.toml');
      assert.deepEqual(messages, [`${file}: bad service name "${name}" (the file name without .toml); use letters, digits and _ . @ -, not starting with . or -`]);
    }
  });

  test('cross-key rules: backoff order, health checks, socket, names, self-dependency', () => {
    const cases: [string, string][] = [
      ['command = ["x"]\nbackoff = { initial = "2m", max = "1m" }\n', '2: backoff.initial: "2m" is longer than backoff.max "1m"; raise max or lower initial'],
      ['command = ["x"]\n[health]\ninterval = "1s"\n', '2: health: needs exactly one of http, tcp or exec, got none'],
      ['command = ["x"]\n[health]\nhttp = "http://x/"\ntcp = "x:1"\n', '2: health: needs exactly one of http, tcp or exec, got http and tcp'],
      ['command = ["x"]\n[health]\ntcp = "localhost"\n', '3: health.tcp: bad address "localhost"; use host:port, like "127.0.0.1:22"'],
      ['command = ["x"]\n[health]\nhttp = "ftp://x/"\n', '3: health.http: bad URL "ftp://x/"; use http:// or https://, like "http://127.0.0.1:8080/healthz"'],
      ['command = ["x"]\n[socket]\nlisten = []\n', '3: socket.listen: needs at least one address; like listen = ["127.0.0.1:9000"]'],
      ['command = ["x"]\n[socket]\n', '2: socket.listen: needs at least one address; like listen = ["127.0.0.1:9000"]'],
      ['command = ["x"]\n[socket]\nlisten = ["8080"]\n', '3: socket.listen: address "8080": a port alone does not say which interfaces; write "0.0.0.0:8080" or "[::]:8080"'],
      ['command = ["x"]\ngroups = ["ok", "not ok"]\n', '2: groups: bad name "not ok"; use letters, digits and _ . @ -, not starting with . or -'],
      ['command = ["x"]\nafter = ["web"]\n', '2: after: a service cannot wait for itself ("web")'],
    ];
    for (const [text, message] of cases) {
      const { file, messages } = errorsFor(text);
      assert.deepEqual(messages, [`${file}:${message}`], text);
    }
  });

  test('all errors of a file are reported, in line order', () => {
    const text = [
      'command = "node \'x"', //              1
      'restart = "sometimes"', //             2
      'restart_delay = "5s"', //              3
      'environment = { PORT = 8080 }', //     4
      'stop_timeout = "10 sec"', //           5
      '[log]', //                             6
      'keep = 0', //                          7
    ].join('\n');
    const { file, messages, keys } = errorsFor(text);
    assert.deepEqual(
      messages.map((m) => m.slice(file.length).split(':').slice(0, 3).join(':')),
      [':1: command', ':2: restart', ':3: unknown key "restart_delay"; did you mean "backoff"?', ':4: environment.PORT', ':5: stop_timeout', ':7: log.keep'],
    );
    assert.deepEqual(keys, ['command', 'restart', 'restart_delay', 'environment.PORT', 'stop_timeout', 'log.keep']);
  });
});

describe('loading a folder', () => {
  test('one good and one bad file: the good spec loads and the error is returned', () => {
    const dir = freshDir();
    writeFileSync(path.join(dir, 'good.toml'), 'command = ["sleep", "1"]\n');
    writeFileSync(path.join(dir, 'bad.toml'), 'command = ["sleep", "1"]\nrestart = "sometimes"\n');
    writeFileSync(path.join(dir, 'tmpl@.toml'), 'this is a broken template = [\n');
    writeFileSync(path.join(dir, '.swap.toml'), 'garbage = [\n');
    writeFileSync(path.join(dir, 'notes.txt'), 'not a service\n');
    mkdirSync(path.join(dir, 'sub'));
    writeFileSync(path.join(dir, 'sub', 'nested.toml'), 'command = ["x"]\n');
    const loaded = loadConfigDir(dir);
    assert.deepEqual([...loaded.specs.keys()], ['good']);
    assert.deepEqual(loaded.files, [path.join(dir, 'bad.toml'), path.join(dir, 'good.toml'), path.join(dir, 'tmpl@.toml')]);
    assert.deepEqual(
      loaded.errors.map((e) => e.message.replace(/ \(column \d+\)/, '')),
      [
        `${path.join(dir, 'bad.toml')}:2: restart: expected one of "always", "on-failure", "never", got "sometimes"`,
        `${path.join(dir, 'tmpl@.toml')}:1: TOML syntax error: ${loaded.errors[1]?.message.split('TOML syntax error: ')[1]?.replace(/ \(column \d+\)/, '')}`,
      ],
    );
    assert.equal(loaded.errors[1]?.code, 'config-syntax');
    assert.equal(loaded.errors[0]!.file, path.join(dir, 'bad.toml'));
    assert.equal(loaded.errors[0]!.line, 2);
  });

  test('a missing folder is one error that names it, with a hint', () => {
    const dir = path.join(root, 'does-not-exist');
    const loaded = loadConfigDir(dir);
    assert.equal(loaded.specs.size, 0);
    assert.equal(loaded.errors.length, 1);
    assert.equal(loaded.errors[0]!.message, `${dir}: config directory does not exist; create it, or pass another one with --config DIR`);
    assert.equal(loaded.errors[0]!.code, 'config-unreadable');
  });
});

describe('shell-like splitting of command strings', () => {
  const ok: [string, string[]][] = [
    ['node server.js', ['node', 'server.js']],
    ['  a   b\tc  ', ['a', 'b', 'c']],
    [`echo 'x y' "a b"`, ['echo', 'x y', 'a b']],
    ['a\\ b', ['a b']],
    ['"a\\"b"', ['a"b']],
    ["'a\\b'", ['a\\b']],
    ['"a\\nb"', ['a\\nb']],
    ["a''b ''", ['ab', '']],
    [`"x"'y'z`, ['xyz']],
    ["'$HOME' \\$HOME \"\\$x\"", ['$HOME', '$HOME', '$x']],
    ['ls *.js', ['ls', '*.js']],
    ['', []],
  ];
  for (const [input, args] of ok) {
    test(`splits ${JSON.stringify(input)}`, () => assert.deepEqual(splitCommand(input), { args }));
  }
  const bad: [string, RegExp][] = [
    ["node 'x", /^unbalanced ' quote/],
    ['node "x', /^unbalanced " quote/],
    ['node x\\', /lone backslash/],
    ['a | b', /needs a shell for "\|"/],
    ['a > log', /needs a shell for ">"/],
    ['echo $HOME', /needs a shell for "\$"/],
    ['echo "$HOME"', /needs a shell to expand/],
  ];
  for (const [input, error] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      const result = splitCommand(input);
      assert.ok('error' in result, JSON.stringify(result));
      assert.match(result.error, error);
    });
  }
});

describe('durations and sizes', () => {
  test('durations', () => {
    const table: [string, number][] = [
      ['250ms', 250], ['10s', 10_000], ['5m', 300_000], ['1h', 3_600_000], ['1m30s', 90_000],
      ['1h1m1s1ms', 3_661_001], ['1.5s', 1_500], ['0s', 0],
    ];
    for (const [text, ms] of table) assert.equal(parseDuration(text), ms, text);
    for (const text of ['', '10', '10 sec', '10sec', '-1s', 's', '1d', ' 10s', '10s ', '1.s', 'ms']) {
      assert.equal(tryParseDuration(text), undefined, text);
    }
    assert.throws(() => parseDuration('10 sec'), { message: 'bad duration "10 sec"; use a number with ms, s, m or h, like "10s"' });
  });

  test('sizes', () => {
    const table: [string, number][] = [
      ['10MiB', 10 * 1024 * 1024], ['512KiB', 512 * 1024], ['1GiB', 1024 ** 3], ['100B', 100],
      ['10MB', 10 * 1000 * 1000], ['1KB', 1000], ['2GB', 2e9], ['10mib', 10 * 1024 * 1024], ['1.5KiB', 1536],
    ];
    for (const [text, bytes] of table) assert.equal(parseSize(text), bytes, text);
    for (const text of ['', '10', '10 MB', 'MB', '10XB', '-1B', '10MiB ']) assert.equal(tryParseSize(text), undefined, text);
    assert.throws(() => parseSize('10 MB'), { message: 'bad size "10 MB"; use a number with B, KB, MB, GB, KiB, MiB or GiB, like "10MiB"' });
  });
});

describe('locating keys and the schema', () => {
  test('locateKey finds keys in tables, inline tables, dotted and quoted keys; skips multi-line strings', () => {
    const text = [
      'command = ["x"]', //                              1
      'backoff = { initial = "1s", max = "2m" }', //     2
      'health.interval = "5s"', //                       3
      'note = """', //                                   4
      'restart = "inside a string"', //                  5
      '"""', //                                          6
      'restart = "always"', //                           7
      '[ environment ]  # vars', //                      8
      '"MY-VAR" = "x"', //                               9
      '[log]', //                                        10
      '  keep = 3', //                                   11
    ].join('\n');
    assert.equal(locateKey(text, ['command']), 1);
    assert.equal(locateKey(text, ['backoff', 'max']), 2);
    assert.equal(locateKey(text, ['backoff', 'reset_after']), undefined);
    assert.equal(locateKey(text, ['health', 'interval']), 3);
    assert.equal(locateKey(text, ['restart']), 7);
    assert.equal(locateKey(text, ['environment']), 8);
    assert.equal(locateKey(text, ['environment', 'MY-VAR']), 9);
    assert.equal(locateKey(text, ['log', 'keep']), 11);
    assert.equal(locateKey(text, ['keep']), undefined);
  });

  test('the README table lists every declared key once', () => {
    const table = renderKeyTable();
    for (const [key, decl] of Object.entries(SERVICE_KEYS)) {
      assert.ok(table.includes(decl.type === 'table' ? `| \`[${key}]\` |` : `| \`${key}\` |`), key);
      for (const inner of Object.keys(decl.keys ?? {})) assert.ok(table.includes(`| \`${key}.${inner}\` |`), `${key}.${inner}`);
    }
    assert.match(table, /\| `restart` \| "always" \\\| "on-failure" \\\| "never" \| `"always"` \|/);
  });

  test('suggestKey: aliases, typos, nested keys, nothing when far', () => {
    assert.equal(suggestKey('restart_delay', []), 'backoff');
    assert.equal(suggestKey('workdir', []), 'directory');
    assert.equal(suggestKey('restrat', []), 'restart');
    assert.equal(suggestKey('max_size', []), 'log.max_size');
    assert.equal(suggestKey('kep', ['log']), 'log.keep');
    assert.equal(suggestKey('banana', []), undefined);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('the README key table is the one generated from the schema', async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const between = readme.split('<!-- keys:start -->')[1]?.split('<!-- keys:end -->')[0]?.trim();
  assert.equal(between, renderKeyTable().trim(), 'run: node -e "import(\'./dist/src/config/schema.js\').then(m=>console.log(m.renderKeyTable()))" and paste into README.md');
});
