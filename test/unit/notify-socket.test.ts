// sd_notify: parsing (systemd's rules, table-style) and the per-service datagram socket with real
// senders (systemd-notify, python3); the kernel tells the sender's pid. Every child is awaited,
// and killed by pid in after() if a test failed first; the temp dir is removed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotifySocket, parseNotify, toNotifyMessage, type NotifyMessage } from '../../src/probes/notify-socket.js';

const dir = mkdtempSync(join(tmpdir(), 'upkeep-notify-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

const parseCases: { name: string; text: string; map: [string, string][]; msg: NotifyMessage }[] = [
  {
    name: 'several assignments in one datagram',
    text: 'READY=1\nSTATUS=serving\nWATCHDOG=1\nSTOPPING=1\nRELOADING=1\nMAINPID=42\nERRNO=2',
    map: [['READY', '1'], ['STATUS', 'serving'], ['WATCHDOG', '1'], ['STOPPING', '1'], ['RELOADING', '1'], ['MAINPID', '42'], ['ERRNO', '2']],
    msg: { ready: true, status: 'serving', watchdog: 'ping', stopping: true, reloading: true, mainPid: 42, errno: 2 },
  },
  {
    name: 'a later assignment of the same key wins',
    text: 'STATUS=first\nWATCHDOG=1\nSTATUS=second\nWATCHDOG=trigger',
    map: [['STATUS', 'second'], ['WATCHDOG', 'trigger']],
    msg: { status: 'second', watchdog: 'trigger' },
  },
  {
    name: 'empty lines, lines without "=" and unknown keys are ignored; "=" may be in a value',
    text: '\n\nnonsense\n=x\nX_CUSTOM=1\nFDSTORE=1\nSTATUS=a=b\n',
    map: [['X_CUSTOM', '1'], ['FDSTORE', '1'], ['STATUS', 'a=b']],
    msg: { status: 'a=b' },
  },
  {
    name: 'bad numbers and flags other than 1 are ignored',
    text: 'READY=0\nWATCHDOG=2\nWATCHDOG_USEC=-5\nEXTEND_TIMEOUT_USEC=1e6\nERRNO=x\nMAINPID=0\nSTOPPING=yes',
    map: [['READY', '0'], ['WATCHDOG', '2'], ['WATCHDOG_USEC', '-5'], ['EXTEND_TIMEOUT_USEC', '1e6'], ['ERRNO', 'x'], ['MAINPID', '0'], ['STOPPING', 'yes']],
    msg: {},
  },
  {
    name: 'numbers: durations in microseconds, too large to be exact is ignored',
    text: 'WATCHDOG_USEC=30000000\nEXTEND_TIMEOUT_USEC=5000000\nMAINPID=99999999999999999999',
    map: [['WATCHDOG_USEC', '30000000'], ['EXTEND_TIMEOUT_USEC', '5000000'], ['MAINPID', '99999999999999999999']],
    msg: { watchdogUsec: 30_000_000, extendTimeoutUsec: 5_000_000 },
  },
  {
    name: 'CRLF lines work, as in systemd; an empty STATUS= is a status',
    text: 'READY=1\r\nSTATUS=\r\n',
    map: [['READY', '1'], ['STATUS', '']],
    msg: { ready: true, status: '' },
  },
];

for (const c of parseCases) {
  test(`parseNotify: ${c.name}`, () => {
    const map = parseNotify(c.text);
    assert.deepEqual([...map], c.map);
    assert.deepEqual(toNotifyMessage(map), c.msg);
  });
}

interface Received {
  msg: NotifyMessage;
  pid: number | undefined;
  raw: string;
}

/** A socket in the temp dir whose messages can be awaited one by one (no polling). */
function openInbox(name: string, onMessage?: (r: Received) => void) {
  const path = join(dir, `${name}.sock`);
  const queue: Received[] = [];
  let wake: (() => void) | null = null;
  const socket = NotifySocket.open(path, (msg, pid, raw) => {
    queue.push({ msg, pid, raw });
    wake?.();
    onMessage?.({ msg, pid, raw });
  });
  const next = async (): Promise<Received> => {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return queue.shift()!;
  };
  return { path, socket, next };
}

/** Runs a child to its exit; returns its pid and exit code. */
async function run(file: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ pid: number; code: number | null }> {
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { pid: child.pid!, code };
}

/** python3 sends each argument as one datagram to path, from a socket of its own ("\\0": NUL). */
const PY_SEND =
  'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n' +
  'for m in sys.argv[2:]: s.sendto(m.encode().replace(b"\\\\0", b"\\0"), sys.argv[1])';

test('the socket is created with mode 0600 and removed on close; close twice is harmless', () => {
  const { path, socket } = openInbox('mode');
  assert.equal(socket.path, path);
  assert.equal(statSync(path).isSocket(), true);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  socket.close();
  socket.close();
  assert.equal(existsSync(path), false);
});

test('systemd-notify --ready --status=hello is received as ready + status', { timeout: 10_000 }, async () => {
  const { path, socket, next } = openInbox('systemd-notify');
  try {
    // systemd-notify (v252 here) sends the message, then BARRIER=1 with a pipe fd and waits up
    // to 5 s for the receiver to close that fd (--no-block skips the wait). It must run async:
    // a spawnSync would block the loop that closes the fd. The message carries the pid of the
    // *invoking* process (getppid(), which only a privileged sender may claim, as root here)
    // or else of systemd-notify itself; BARRIER=1 always carries systemd-notify's own pid.
    const started = Date.now();
    const { pid, code } = await run('/usr/bin/systemd-notify', ['--ready', '--status=hello'], { NOTIFY_SOCKET: path });
    assert.equal(code, 0);
    assert.ok(Date.now() - started < 4000, 'the barrier fd was closed by the receiver at once');
    const first = await next();
    assert.deepEqual(first.msg, { ready: true, status: 'hello' });
    assert.ok(first.pid === process.pid || first.pid === pid, `sender pid ${first.pid}`);
    assert.deepEqual(await next(), { msg: {}, pid, raw: 'BARRIER=1' });
  } finally {
    socket.close();
  }
});

test('python3 sendto: parsed, with the python process as sender pid', { timeout: 10_000 }, async () => {
  const { path, socket, next } = openInbox('python');
  try {
    const { pid, code } = await run('python3', ['-c', PY_SEND, path, 'WATCHDOG=1\nSTATUS=x']);
    assert.equal(code, 0);
    assert.deepEqual(await next(), { msg: { watchdog: 'ping', status: 'x' }, pid, raw: 'WATCHDOG=1\nSTATUS=x' });
  } finally {
    socket.close();
  }
});

test('oversized datagrams, a trailing NUL and a throwing handler never break the receive path', { timeout: 10_000 }, async () => {
  let throws = true;
  const { path, socket, next } = openInbox('robust', () => {
    if (throws) {
      throws = false;
      throw new Error('handler bug');
    }
  });
  try {
    const big = `STATUS=${'x'.repeat(4096)}`;
    const { pid } = await run('python3', ['-c', PY_SEND, path, 'STATUS=thrown', big, 'READY=1\\0', `STATUS=${'y'.repeat(4089)}`]);
    assert.equal((await next()).msg.status, 'thrown'); // queued after the handler threw
    assert.deepEqual(await next(), { msg: { ready: true }, pid, raw: 'READY=1' }); // 4103 bytes: dropped
    assert.equal((await next()).raw.length, 4096); // exactly 4 KiB: kept
  } finally {
    socket.close();
  }
});

test('an open socket keeps the process alive; after close() nothing does', { timeout: 10_000 }, async () => {
  const path = join(dir, 'alive.sock');
  const module = new URL('../../src/probes/notify-socket.js', import.meta.url).href;
  // The child waits on nothing but the socket, then closes it in the handler: it must exit by
  // itself (a handle left behind would hang it until the test timeout).
  const script = `import { NotifySocket } from ${JSON.stringify(module)};
    const s = NotifySocket.open(${JSON.stringify(path)}, (msg) => { console.log(JSON.stringify(msg)); s.close(); });
    console.log('open');`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8');
  const opened = new Promise<void>((resolve) =>
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('open\n')) resolve();
    }),
  );
  const exited = once(child, 'exit') as Promise<[number | null]>;
  await opened;
  await run('python3', ['-c', PY_SEND, path, 'READY=1']);
  const [code] = await exited;
  assert.equal(code, 0);
  assert.equal(out, 'open\n{"ready":true}\n');
  assert.equal(existsSync(path), false);
});
