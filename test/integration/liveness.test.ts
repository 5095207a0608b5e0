// Readiness and liveness with real protocol clients: systemd-notify, a python sd_notify client,
// redis-server --supervised systemd, and tcp/http/exec health checks against real servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FIXTURES, processAlive, Project, waitFor } from './harness.js';

test('ready = notify: starting until systemd-notify --ready, STATUS shown in status', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('slow.toml', `command = ["${FIXTURES}/notify-ready.sh"]\nready = "notify"\nenvironment = { READY_AFTER = "1" }\n`);
  await p.startDaemon();
  await waitFor(async () => (await p.service('slow')).pid !== null, 5000, () => 'not spawned');
  assert.equal((await p.service('slow')).state, 'starting', 'spawned is not ready');
  const s = await p.running('slow');
  assert.equal((s as unknown as { status: string }).status, 'serving after 1s');
  const human = await p.cli('status');
  assert.match(human.stdout, /serving after 1s/);
});

test('a missing READY hits start_timeout: killed with cause start-timeout, then backoff', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('mute.toml', 'command = ["sleep", "1000"]\nready = "notify"\nstart_timeout = "300ms"\nbackoff = { initial = "5s" }\n');
  await p.startDaemon();
  await waitFor(async () => (await p.events('mute')).some((e) => e.cause.kind === 'start-timeout'), 5000, () => 'no start-timeout');
  await waitFor(async () => (await p.service('mute')).state === 'backoff', 5000, () => 'not backing off');
});

test('watchdog pings keep a service up; SIGSTOP gets it restarted with cause watchdog', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  // 1 s with pings every 0.5 s: a loaded test machine must not make a ping late by a whole second.
  p.write('dog.toml', `command = ["python3", "${FIXTURES}/watchdog.py"]\nready = "notify"\nwatchdog = "1s"\nstop_timeout = "300ms"\n`);
  await p.startDaemon();
  const first = await p.running('dog');
  await new Promise((r) => setTimeout(r, 3000));
  const still = await p.service('dog');
  assert.equal(still.pid, first.pid, `pings kept it alive for 3 watchdog intervals:\n${p.daemonOutput}`);
  assert.equal((still as unknown as { status: string }).status, 'pinging');
  process.kill(first.pid as number, 'SIGSTOP');
  await waitFor(async () => {
    const s = await p.service('dog');
    return s.state === 'running' && s.pid !== first.pid;
  }, 10_000, () => `not restarted after SIGSTOP:\n${p.daemonOutput}`);
  const hung = (await p.events('dog')).find((e) => e.cause.kind === 'watchdog');
  assert.ok(hung, 'cause watchdog recorded');
  assert.equal(typeof hung.cause.lastHeartbeat, 'string');
  assert.equal(processAlive(first.pid as number), false, 'the stopped process was killed');
});

test('a notify message from a process outside the service is rejected', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('quiet.toml', 'command = ["sleep", "1000"]\nready = "notify"\nstart_timeout = "20s"\n');
  await p.startDaemon();
  await waitFor(async () => (await p.service('quiet')).pid !== null, 5000, () => 'not spawned');
  const sock = `${p.state}/notify/quiet.sock`;
  assert.ok(existsSync(sock), 'per-service notify socket exists');
  const { spawnSync } = await import('node:child_process');
  spawnSync('systemd-notify', ['--ready'], { env: { ...process.env, NOTIFY_SOCKET: sock } });
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await p.service('quiet')).state, 'starting', 'a stranger cannot declare it ready');
});

test('redis-server --supervised systemd becomes ready through sd_notify', { skip: !existsSync('/usr/bin/redis-server') && 'redis-server is not installed' }, async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write(
    'redis.toml',
    `command = ["redis-server", "--port", "0", "--unixsocket", "${p.dir}/redis.sock", "--supervised", "systemd", "--save", "", "--daemonize", "no"]\nready = "notify"\nstart_timeout = "10s"\n`,
  );
  await p.startDaemon();
  await p.running('redis', 15_000);
  const events = await p.events('redis');
  assert.ok(events.some((e) => e.from === 'starting' && e.to === 'running'));
});

test('health checks: failing exec restarts with cause health and its output; tcp and http pass', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  const server = http.createServer((_req, res) => res.end('all good')).listen(0, '127.0.0.1');
  t.after(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  p.write('sick.toml', 'command = ["sleep", "1000"]\n[health]\nexec = ["sh", "-c", "echo database unreachable; exit 1"]\ninterval = "200ms"\nfailures = 2\n');
  p.write('web.toml', `command = ["sleep", "1000"]\n[health]\nhttp = "http://127.0.0.1:${port}/"\nexpect = "good"\ninterval = "200ms"\n`);
  p.write('tcp.toml', `command = ["sleep", "1000"]\n[health]\ntcp = "127.0.0.1:${port}"\ninterval = "200ms"\n`);
  await p.startDaemon();
  await waitFor(async () => (await p.events('sick')).some((e) => e.cause.kind === 'health'), 10_000, () => 'no health restart');
  const sick = (await p.events('sick')).find((e) => e.cause.kind === 'health');
  assert.match(String(sick?.cause.output), /database unreachable/);
  await waitFor(async () => {
    const list = await p.status();
    const ok = (n: string) => (list.find((s) => s.name === n) as unknown as { health: { ok: boolean } | null }).health?.ok === true;
    return ok('web') && ok('tcp');
  }, 10_000, () => 'http/tcp checks not passing');
  assert.equal((await p.events('web')).filter((e) => e.from === 'running').length, 0, 'healthy services untouched');
});

test('after waits until the dependency is ready, not just spawned', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('db.toml', `command = ["${FIXTURES}/notify-ready.sh"]\nready = "notify"\nenvironment = { READY_AFTER = "1.5" }\n`);
  p.write('app.toml', 'command = ["sleep", "1000"]\nafter = ["db"]\n');
  await p.startDaemon();
  await waitFor(async () => (await p.service('db')).pid !== null, 5000, () => 'db not spawned');
  const app = await p.service('app');
  assert.equal(app.state, 'stopped', 'app holds while db is starting');
  assert.deepEqual((app as unknown as { waitingFor: string[] }).waitingFor, ['db']);
  await p.running('app', 10_000);
  const dbReady = (await p.events('db')).find((e) => e.to === 'running');
  const appStart = (await p.events('app')).find((e) => e.to === 'starting');
  assert.ok(dbReady && appStart && appStart.time >= dbReady.time, 'app started after db was ready');
});

test('a SIGSTOPped server is caught by its http health check and restarted with cause health', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  const probe = http.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r)); // a free port for the service
  p.write(
    'api.toml',
    `command = ["node", "${FIXTURES}/http-server.js"]\nenvironment = { PORT = "${port}" }\nstop_timeout = "300ms"\n` +
      `[health]\nhttp = "http://127.0.0.1:${port}/"\ninterval = "200ms"\ntimeout = "200ms"\nfailures = 2\ngrace = "2s"\n`,
  );
  await p.startDaemon();
  const first = await p.running('api');
  await waitFor(async () => (await p.service('api') as unknown as { health: { ok: boolean } | null }).health?.ok === true, 10_000, () => 'never healthy');
  process.kill(first.pid as number, 'SIGSTOP');
  await waitFor(async () => (await p.events('api')).some((e) => e.cause.kind === 'health'), 10_000, () => `not caught:\n${p.daemonOutput}`);
  const caught = (await p.events('api')).find((e) => e.cause.kind === 'health');
  assert.match(String(caught?.cause.output), /timed out/);
  await waitFor(async () => {
    const s = await p.service('api');
    return s.state === 'running' && s.pid !== first.pid;
  }, 10_000, () => 'not restarted');
  assert.equal(processAlive(first.pid as number), false);
});

test('ERRNO= from the service is kept with the exit it explains', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  const script = 'import socket,os,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.sendto(b"ERRNO=5\\nSTATUS=disk error",os.environ["NOTIFY_SOCKET"])\ntime.sleep(0.3)\nraise SystemExit(1)\n';
  p.write('failing.toml', `command = ["python3", "-c", ${JSON.stringify(script)}]\nbackoff = { initial = "10s" }\n`);
  await p.startDaemon();
  await waitFor(async () => (await p.events('failing')).some((e) => e.to === 'backoff'), 10_000, () => 'no exit');
  const exit = (await p.events('failing')).find((e) => e.to === 'backoff');
  assert.equal(exit?.detail?.errno, 5);
  assert.deepEqual(exit?.cause, { kind: 'exit', code: 1 });
});
