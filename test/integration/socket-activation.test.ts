/**
 * Socket activation with a real consumer (a python3 server that accepts on fd 3): the daemon
 * binds at start, starts the service on the first connection, passes LISTEN_FDS / LISTEN_PID /
 * LISTEN_FDNAMES, and keeps the socket open across restarts, so a client that connects while
 * the service is down is served once it is back instead of being refused.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FIXTURES, processAlive, Project, waitFor } from './harness.js';

const project = new Project();
let port: number;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const p = (server.address() as net.AddressInfo).port;
  await new Promise((res) => server.close(res));
  return p;
}

/** Connects and returns the first line the server sends. */
function ask(target: { port: number } | { path: string }, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = 'port' in target ? net.connect(target.port, '127.0.0.1') : net.connect(target.path);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (d) => {
      data += d.toString();
      if (data.includes('\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(data.trim());
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

before(async () => {
  port = await freePort();
  const server = join(FIXTURES, 'fromfd-server.py');
  project.write(
    'echo.toml',
    `command = ["/usr/bin/python3", "-u", "${server}"]\nbackoff = { initial = "500ms" }\n[socket]\nlisten = ["127.0.0.1:${port}"]\n`,
  );
  project.write(
    'unixy.toml',
    `command = ["/usr/bin/python3", "-u", "${server}"]\n[socket]\nlisten = ["${join(project.dir, 'app.sock')}"]\nmode = "0660"\nactivate = "eager"\nnames = ["api"]\n`,
  );
  await project.startDaemon();
});

after(() => project.cleanup());

describe('socket activation', () => {
  test('lazy: the socket is bound at start and the service starts on the first connection', async () => {
    const before = await project.service('echo');
    assert.equal(before.state, 'stopped');
    assert.equal(before.desired, 'running');
    assert.equal((before as unknown as { listening: boolean }).listening, true);
    assert.match((await project.cli('status')).stdout, /echo\s+listening/);
    const answer = await ask({ port });
    const s = await project.running('echo');
    assert.equal(answer, `hello ${s.pid}`);
  });

  test('LISTEN_FDS, LISTEN_PID (the service itself) and LISTEN_FDNAMES are passed', async () => {
    const s = await project.running('unixy');
    const env = (await import('node:fs')).readFileSync(`/proc/${s.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes('LISTEN_FDS=1'));
    assert.ok(env.includes(`LISTEN_PID=${s.pid}`));
    assert.ok(env.includes('LISTEN_FDNAMES=api'));
    assert.equal(statSync(join(project.dir, 'app.sock')).mode & 0o777, 0o660);
    assert.equal(await ask({ path: join(project.dir, 'app.sock') }), `hello ${s.pid}`);
  });

  test('a connection made while the service is restarting is served once it is back', async () => {
    const first = await project.running('echo');
    process.kill(first.pid!, 'SIGKILL');
    await waitFor(() => !processAlive(first.pid!), 5000, () => 'not dead');
    // Connect at once: the service is down (backing off 500ms), the daemon's socket queues us.
    const answer = await ask({ port });
    const second = await project.running('echo');
    assert.notEqual(second.pid, first.pid);
    assert.equal(answer, `hello ${second.pid}`);
    const events = await project.events('echo');
    assert.ok(events.some((e) => e.cause.kind === 'signal' && e.cause.signal === 'SIGKILL'));
  });

  test('an admin stop closes the socket: clients are refused, not left waiting', async () => {
    assert.equal((await project.cli('stop', 'echo')).code, 0);
    await assert.rejects(ask({ port }, 2000), /ECONNREFUSED/);
    assert.equal((await project.cli('start', 'echo')).code, 0);
    const s = await project.running('echo');
    assert.equal(await ask({ port }), `hello ${s.pid}`);
  });
});
