import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { peerCredentials, peerCredentialsAvailable } from '../../src/process/peercred.js';

// One server on a Unix socket in a temp dir; after() closes it, kills children by pid and
// removes the dir.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-peercred-'));
const socketPath = path.join(dir, 'control.sock');
const server = net.createServer();
const accepted: net.Socket[] = [];
server.on('connection', (socket) => accepted.push(socket));
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const socket of accepted) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function listening(): Promise<void> {
  if (server.listening) return;
  server.listen(socketPath);
  await once(server, 'listening');
}

test('the addon is built and loads', () => {
  assert.equal(peerCredentialsAvailable(), true, 'run `npm run build:native`');
});

test('a client in this process is reported with our own pid, uid and gid', async () => {
  await listening();
  const serverSide = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(socketPath);
  const [socket] = await serverSide;
  try {
    assert.deepEqual(peerCredentials(socket), {
      pid: process.pid,
      uid: process.getuid!(),
      gid: process.getgid!(),
    });
  } finally {
    client.destroy();
  }
});

test('a client in a child process is reported with the child pid', async () => {
  await listening();
  const serverSide = once(server, 'connection') as Promise<[net.Socket]>;
  const script = `require('net').connect(${JSON.stringify(socketPath)}); setTimeout(() => {}, 10000);`;
  const child = spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
  children.push(child);
  assert.ok(child.pid !== undefined, 'spawn node');
  const [socket] = await serverSide;
  const creds = peerCredentials(socket);
  assert.equal(creds?.pid, child.pid);
  assert.equal(creds?.uid, process.getuid!());
  assert.equal(creds?.gid, process.getgid!());
  child.kill('SIGKILL');
  await once(child, 'exit');
});

test('a destroyed socket or a non-Unix socket gives undefined, not an exception', async () => {
  await listening();
  const serverSide = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(socketPath);
  const [socket] = await serverSide;
  socket.destroy();
  client.destroy();
  assert.equal(peerCredentials(socket), undefined);
  assert.equal(peerCredentials(new net.Socket()), undefined);
});
