// Socket activation with real sockets and a real consumer: test/fixtures/fromfd-server.py accepts
// on fd 3 as a systemd-activated service does, started through `sh -c 'export LISTEN_PID=$$;
// exec python3 ...'`. The symlink tests create a real unprivileged user (tests run as root),
// removed in after(), as are every child (killed by pid), every listener and the temp dir.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListenError, formatListenAddress, listenAvailable, openListeners, parseListenAddress, type Listeners } from '../../src/process/listen-sockets.js';

const FIXTURE = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'fromfd-server.py');
const dir = join(tmpdir(), `upkeep-listen-${randomBytes(4).toString('hex')}`);
mkdirSync(dir, { mode: 0o755 }); // searchable: the tenant's own paths are below it
chmodSync(dir, 0o755);
const children = new Set<ChildProcess>();
const listeners: Listeners[] = [];
const isRoot = process.getuid?.() === 0;
const noAddon = listenAvailable() ? false : 'native/listen is not built (npm run build:native)';
const noRoot = noAddon || (isRoot ? false : 'needs root: creates a user, binds with its rights');

let tenant: { name: string; uid: number; gid: number } | undefined;
function theTenant(): { name: string; uid: number; gid: number } {
  if (tenant === undefined) {
    const name = `upkeep-ls-${randomBytes(3).toString('hex')}`;
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    const id = (flag: string): number => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim());
    tenant = { name, uid: id('-u'), gid: id('-g') };
  }
  return tenant;
}

after(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }
  for (const set of listeners) set.close();
  rmSync(dir, { recursive: true, force: true });
  if (tenant !== undefined) execFileSync('userdel', [tenant.name]);
});

function open(addresses: string[], options: Parameters<typeof openListeners>[1] = {}): Listeners {
  const set = openListeners(addresses, options);
  listeners.push(set);
  return set;
}

function portOf(set: Listeners, index = 0): number {
  return Number(set.names[index].split(':').pop());
}

interface Consumer {
  child: ChildProcess;
  pid: number;
  nonblocking: boolean;
}

/** Starts the fixture with `fd` as its fd 3; resolves once it accepts. */
async function startConsumer(fd: number): Promise<Consumer> {
  const child = spawn('/bin/sh', ['-c', 'export LISTEN_PID=$$; exec python3 "$0"', FIXTURE], {
    stdio: ['ignore', 'pipe', 'pipe', fd],
    env: { ...process.env, LISTEN_FDS: '1' },
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const line = await new Promise<string>((resolveLine, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolveLine(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`consumer exited (${code}) before ready: ${err}`)));
  });
  const m = /^ready (\d+) nonblocking=([01])$/.exec(line);
  assert.ok(m, `ready line: ${line}`);
  // LISTEN_PID (checked by the fixture) is the pid spawn() reported: exec kept the shell's pid
  assert.equal(Number(m[1]), child.pid);
  return { child, pid: child.pid!, nonblocking: m[2] === '1' };
}

async function stopConsumer(consumer: Consumer): Promise<void> {
  if (consumer.child.exitCode !== null || consumer.child.signalCode !== null) return;
  const exited = once(consumer.child, 'exit');
  process.kill(consumer.pid, 'SIGKILL');
  await exited;
}

/** A client: `connected` once the kernel completed the connection, `reply` all it read. */
function client(target: { port: number; host?: string } | { path: string }): { connected: Promise<unknown>; reply: Promise<string>; socket: Socket } {
  const socket = 'path' in target ? connect(target.path) : connect(target.port, target.host ?? '127.0.0.1');
  const connected = once(socket, 'connect');
  const reply = new Promise<string>((resolveReply, reject) => {
    let text = '';
    socket.on('data', (d: Buffer) => (text += d.toString()));
    socket.on('end', () => resolveReply(text));
    socket.on('error', reject);
  });
  reply.finally(() => socket.destroy()).catch(() => {});
  return { connected, reply, socket };
}

function fdFlags(fd: number): number {
  const line = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').find((l) => l.startsWith('flags:'));
  return parseInt(line!.split(/\s+/)[1], 8);
}

async function withUmask<T>(mask: number, fn: () => T | Promise<T>): Promise<T> {
  const old = process.umask(mask);
  try {
    return await fn();
  } finally {
    process.umask(old);
  }
}

// ---------------------------------------------------------------- parsing (no sockets)

test('listen addresses: host:port, [ipv6]:port and absolute paths parse and format back', () => {
  const cases: [string, ReturnType<typeof parseListenAddress>][] = [
    ['127.0.0.1:8080', { kind: 'tcp', host: '127.0.0.1', port: 8080 }],
    ['0.0.0.0:0', { kind: 'tcp', host: '0.0.0.0', port: 0 }],
    ['localhost:80', { kind: 'tcp', host: 'localhost', port: 80 }],
    ['api.example.com:443', { kind: 'tcp', host: 'api.example.com', port: 443 }],
    ['[::1]:80', { kind: 'tcp', host: '::1', port: 80 }],
    ['[::]:65535', { kind: 'tcp', host: '::', port: 65535 }],
    ['/run/app/app.sock', { kind: 'unix', path: '/run/app/app.sock' }],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(parseListenAddress(text), want, text);
    assert.equal(formatListenAddress(want), text);
  }
});

test('bad listen addresses are refused with a message that names the text and the way out', () => {
  const cases: [string, RegExp][] = [
    ['', /empty/],
    ['8080', /a port alone.*|0\.0\.0\.0:8080/],
    ['::1:80', /needs brackets/],
    ['[::1]80', /followed by ":port"/],
    ['[1.2.3.4]:80', /not an IPv6 address/],
    ['run/app.sock', /must be absolute/],
    ['127.0.0.1:65536', /port "65536" is not a number from 0 to 65535/],
    ['127.0.0.1:http', /port "http"/],
    ['bad_host:80', /"bad_host" is not an IPv4 address or a host name/],
    ['@abstract', /abstract Unix sockets are not supported/],
    [`/tmp/${'a'.repeat(110)}`, /at most 107 bytes/],
    [' 127.0.0.1:80', /spaces/],
  ];
  for (const [text, pattern] of cases) {
    assert.throws(() => parseListenAddress(text), (err: Error & { code?: string; hint?: string }) => {
      assert.equal(err.code, 'listen-address-invalid', text);
      assert.ok(err.message.startsWith(`listen address ${JSON.stringify(text)}: `), err.message);
      assert.match(`${err.message} ${err.hint}`, pattern);
      return true;
    });
  }
});

// ---------------------------------------------------------------- TCP

test('TCP on 127.0.0.1:0: a real consumer serves on the passed fd, which stays blocking', { skip: noAddon, timeout: 15_000 }, async () => {
  const set = open(['127.0.0.1:0']);
  assert.equal(set.fds.length, 1);
  assert.deepEqual(set.env(), { LISTEN_FDS: '1' });
  assert.match(set.names[0], /^127\.0\.0\.1:[1-9]\d*$/);
  const flags = fdFlags(set.fds[0]);
  assert.ok(flags & 0o2000000, 'close-on-exec in the daemon');
  assert.equal(flags & 0o4000, 0, 'blocking, as systemd passes it');
  const consumer = await startConsumer(set.fds[0]);
  assert.equal(consumer.nonblocking, false);
  assert.equal(await client({ port: portOf(set) }).reply, `hello ${consumer.pid}\n`);
  await stopConsumer(consumer);
  set.close();
  set.close(); // twice is fine
});

test('clients queue in the backlog instead of being refused: before the first start and after a crash', { skip: noAddon, timeout: 15_000 }, async () => {
  const set = open(['127.0.0.1:0']);
  const port = portOf(set);
  const early = client({ port });
  await early.connected; // nothing runs yet: the kernel completed the connection
  const first = await startConsumer(set.fds[0]);
  assert.equal(await early.reply, `hello ${first.pid}\n`);

  await stopConsumer(first); // the service crashed; the daemon still holds the socket
  const during = client({ port });
  await during.connected;
  const second = await startConsumer(set.fds[0]);
  assert.notEqual(second.pid, first.pid);
  assert.equal(await during.reply, `hello ${second.pid}\n`);
  await stopConsumer(second);
  set.close();
});

test('an address in use is a ListenError with errno EADDRINUSE, and nothing stays open', { skip: noAddon }, () => {
  const set = open(['127.0.0.1:0']);
  const taken = set.names[0];
  assert.throws(() => openListeners(['127.0.0.1:0', taken]), (err: ListenError) => {
    assert.ok(err instanceof ListenError);
    assert.equal(err.code, 'listen-failed');
    assert.equal(err.errno, 'EADDRINUSE');
    assert.equal(err.address, taken);
    assert.match(err.message, new RegExp(`cannot listen on ${taken}: cannot bind ${taken}: Address already in use`));
    assert.match(err.hint ?? '', /another process/);
    return true;
  });
  set.close();
});

test('a host name resolves ("localhost"), an unknown one is ENOTFOUND', { skip: noAddon }, () => {
  const set = open(['localhost:0']);
  assert.match(set.names[0], /^localhost:[1-9]\d*$/);
  set.close();
  assert.throws(() => openListeners(['no-such-host.invalid:80']), { errno: 'ENOTFOUND' });
});

// ---------------------------------------------------------------- lazy activation

test('onceReadable fires once, on the first connection to any socket, without accepting it', { skip: noAddon, timeout: 15_000 }, async () => {
  const set = open(['127.0.0.1:0', '127.0.0.1:0']);
  const fired: number[] = [];
  const firedOnce = new Promise<void>((r) => set.onceReadable((index) => (fired.push(index), r())));
  const waiting = client({ port: portOf(set, 1) });
  const second = client({ port: portOf(set, 1) });
  await firedOnce;
  await new Promise((r) => setTimeout(r, 100)); // a second fire would come by now
  assert.deepEqual(fired, [1]);
  const consumer = await startConsumer(set.fds[1]); // the service accepts what is waiting
  assert.equal(consumer.nonblocking, false, 'the watch left the socket blocking');
  assert.equal(await waiting.reply, `hello ${consumer.pid}\n`);
  assert.equal(await second.reply, `hello ${consumer.pid}\n`);
  await stopConsumer(consumer);
  set.close();
});

test('a cancelled onceReadable never fires, and close() cancels a pending one', { skip: noAddon, timeout: 15_000 }, async () => {
  const set = open(['127.0.0.1:0']);
  let fired = 0;
  const cancel = set.onceReadable(() => fired++);
  cancel();
  cancel();
  const c = client({ port: portOf(set) });
  await c.connected;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fired, 0);
  set.onceReadable(() => fired++); // re-armable after a cancel; fires at once for the queued client
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fired, 1);
  set.onceReadable(() => fired++);
  set.close(); // with a watch armed: unwatched first, then closed
  c.socket.destroy();
  assert.throws(() => set.onceReadable(() => {}), { code: 'listen-closed' });
});

// ---------------------------------------------------------------- Unix sockets

test('a Unix socket bound by the daemon: exactly mode 0660 under umask 022, owned as asked, served, removed', { skip: noRoot, timeout: 15_000 }, async () => {
  const { uid, gid } = theTenant();
  const path = join(dir, 'daemon.sock');
  const set = await withUmask(0o022, () => open([path], { mode: 0o660, owner: { uid, gid } }));
  const st = lstatSync(path);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o7777, 0o660);
  assert.equal(st.uid, uid);
  assert.equal(st.gid, gid);
  assert.equal(fdFlags(set.fds[0]) & 0o4000, 0);
  const consumer = await startConsumer(set.fds[0]);
  assert.equal(await client({ path }).reply, `hello ${consumer.pid}\n`);
  await stopConsumer(consumer);
  set.close();
  assert.equal(existsSync(path), false);
});

function tenantDir(name: string): string {
  const { uid, gid } = theTenant();
  const path = join(dir, name);
  mkdirSync(path, { mode: 0o755 });
  chownSync(path, uid, gid);
  return path;
}

test('bound as the service user: the file is that user\'s, exactly the mode, served, removed by close()', { skip: noRoot, timeout: 15_000 }, async () => {
  const { uid, gid } = theTenant();
  const path = join(tenantDir('tenant-ok'), 'app.sock');
  const set = await withUmask(0o077, () => open([path], { mode: 0o660, uid, gid }));
  const st = lstatSync(path);
  assert.equal(st.mode & 0o7777, 0o660);
  assert.equal(st.uid, uid);
  assert.equal(st.gid, gid);
  const consumer = await startConsumer(set.fds[0]);
  assert.equal(await client({ path }).reply, `hello ${consumer.pid}\n`);
  await stopConsumer(consumer);
  set.close();
  assert.equal(existsSync(path), false);
});

test('a stale socket file is replaced; a live one is EADDRINUSE and left alone', { skip: noAddon, timeout: 15_000 }, async () => {
  const path = join(dir, 'stale.sock');
  // a process that bound and died without removing its socket
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)', path]);
  assert.ok(lstatSync(path).isSocket());
  const set = open([path]);
  const ino = lstatSync(path).ino;
  // a live socket is told by connecting to it: its service sees one connection that closes at once
  assert.throws(() => openListeners([path]), { errno: 'EADDRINUSE' });
  assert.equal(lstatSync(path).ino, ino, 'the live socket was not replaced');
  const consumer = await startConsumer(set.fds[0]);
  assert.equal(await client({ path }).reply, `hello ${consumer.pid}\n`);
  await stopConsumer(consumer);
  set.close();
});

test('symlink attack: a directory symlink into root-only places cannot make root bind there', { skip: noRoot }, () => {
  const { uid, gid } = theTenant();
  const secret = join(dir, 'root-only');
  mkdirSync(secret, { mode: 0o700 });
  const groupOnly = join(dir, 'root-group'); // group root may write: root's own groups must not count
  mkdirSync(groupOnly, { mode: 0o770 });
  chmodSync(groupOnly, 0o770);
  const home = tenantDir('tenant-evil');
  symlinkSync(secret, join(home, 'link'));
  symlinkSync(groupOnly, join(home, 'group-link'));
  // A daemon started from a login shell has supplementary groups (root's include gid 0); this
  // test process may have none, so give it gid 0 for the attempts.
  const groups = readFileSync('/proc/self/status', 'utf8').match(/^Groups:(.*)$/m)![1].trim().split(/\s+/).filter(Boolean).map(Number);
  process.setgroups!([0]);
  try {
    for (const link of ['link', 'group-link']) {
      assert.throws(() => openListeners([join(home, link, 'app.sock')], { uid, gid }), (err: ListenError) => {
        assert.equal(err.errno, 'EACCES');
        assert.match(err.message, new RegExp(`cannot listen on ${join(home, link, 'app.sock')}: .*Permission denied`));
        return true;
      });
    }
  } finally {
    process.setgroups!(groups);
  }
  assert.deepEqual(readdirSync(secret), []);
  assert.deepEqual(readdirSync(groupOnly), []);
  // control: with the daemon's own rights the same path does reach the root-only directory
  const asRoot = open([join(home, 'link', 'app.sock')]);
  assert.deepEqual(readdirSync(secret), ['app.sock']);
  asRoot.close();
  assert.deepEqual(readdirSync(secret), []);
});

test('symlink attack: a symlink (or any non-socket) at the socket path is never followed nor removed', { skip: noRoot }, () => {
  const { uid, gid } = theTenant();
  const precious = join(dir, 'precious');
  writeFileSync(precious, 'root data\n', { mode: 0o600 });
  const home = tenantDir('tenant-plant');
  const planted = join(home, 'app.sock');
  symlinkSync(precious, planted);
  const regular = join(home, 'notes.txt');
  writeFileSync(regular, 'tenant data\n');
  for (const options of [{ uid, gid }, {}]) {
    for (const path of [planted, regular]) {
      assert.throws(() => openListeners([path], options), (err: ListenError) => {
        assert.equal(err.errno, 'EEXIST');
        assert.match(err.message, /not a socket/);
        return true;
      });
    }
  }
  assert.equal(readlinkSync(planted), precious);
  assert.equal(readFileSync(regular, 'utf8'), 'tenant data\n');
  const st = statSync(precious);
  assert.equal(readFileSync(precious, 'utf8'), 'root data\n');
  assert.equal(st.mode & 0o7777, 0o600);
  assert.equal(st.uid, 0);
});

test('close() removes only its own socket: not a symlink put in its place, nor a newer socket', { skip: noRoot }, () => {
  const { uid, gid } = theTenant();
  const precious = join(dir, 'precious-2');
  writeFileSync(precious, 'root data\n', { mode: 0o600 });
  const home = tenantDir('tenant-swap');
  const path = join(home, 'app.sock');
  const swapped = open([path], { mode: 0o600, uid, gid });
  unlinkSync(path); // the tenant replaces its socket with a symlink to a root file
  symlinkSync(precious, path);
  swapped.close();
  assert.equal(readlinkSync(path), precious);
  assert.equal(readFileSync(precious, 'utf8'), 'root data\n');
  unlinkSync(path);

  const first = open([path], { uid, gid });
  unlinkSync(path); // someone removed it, and a newer instance bound the same path
  const second = open([path], { uid, gid });
  first.close();
  assert.ok(lstatSync(path).isSocket(), 'the newer socket is still there');
  second.close();
  assert.equal(existsSync(path), false);
});

test('bad options are refused before anything is opened', { skip: noAddon }, () => {
  assert.throws(() => openListeners(['127.0.0.1:0'], { mode: 0o1777 }), { code: 'listen-options-invalid' });
  assert.throws(() => openListeners(['127.0.0.1:0'], { uid: 1000 }), /`uid` and `gid` together/);
  assert.throws(() => openListeners(['127.0.0.1:0'], { uid: 1, gid: 1, owner: { uid: 1, gid: 1 } }), /drop `owner`|owner/);
  assert.throws(() => openListeners(['127.0.0.1:0'], { backlog: 0 }), /backlog/);
});
