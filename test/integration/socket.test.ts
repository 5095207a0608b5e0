// The control socket survives hostile clients: garbage gets an error, a client that vanishes
// mid-request is dropped, and the daemon keeps answering. The socket file is mode 0600.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import net from 'node:net';
import { Project } from './harness.js';

function exchange(path: string, payload: string | Buffer, waitReply = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\n')) s.end();
    });
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.on('connect', () => {
      s.write(payload);
      if (!waitReply) s.destroy();
    });
  });
}

test('garbage on the control socket gets an error; the daemon goes on', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "1000"]\n');
  await p.startDaemon();
  await p.running('svc');
  assert.equal(statSync(p.socket).mode & 0o777, 0o600);

  const notJson = JSON.parse(await exchange(p.socket, 'hello there\n'));
  assert.equal(notJson.ok, false);
  assert.equal(notJson.error.code, 'protocol-error');
  const badCmd = JSON.parse(await exchange(p.socket, '{"cmd":"format-disk"}\n'));
  assert.equal(badCmd.ok, false);
  assert.match(badCmd.error.message, /unknown command/);
  const badArgs = JSON.parse(await exchange(p.socket, '{"cmd":"stop","names":"svc"}\n'));
  assert.equal(badArgs.ok, false);
  const binary = await exchange(p.socket, Buffer.from([0, 255, 10, 13, 10]));
  assert.match(binary, /"ok":false/);
  // Half a request, then gone; a request, then gone before the reply; a huge line without end.
  await exchange(p.socket, '{"cmd":"sta', false);
  await exchange(p.socket, '{"cmd":"stop","names":["svc"]}\n', false);
  const huge = await exchange(p.socket, Buffer.alloc(2 * 1024 * 1024, 'a'));
  assert.match(huge, /longer than/);

  const after = await p.cli('status', '--json');
  assert.equal(after.code, 0, 'daemon still answers');
  const ping = JSON.parse(await exchange(p.socket, '{"cmd":"ping"}\n'));
  assert.equal(ping.ok, true);
});

test('unknown service names get a clear error with a suggestion and exit 1; bad usage exits 2', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('webserver.toml', 'command = ["sleep", "1000"]\n');
  await p.startDaemon();
  const r = await p.cli('stop', 'webservr');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no service named "webservr"/);
  assert.match(r.stderr, /did you mean "webserver"/);
  const j = await p.cli('stop', 'webservr', '--json');
  assert.equal(JSON.parse(j.stdout).code, 'unknown-service');
  const u = await p.cli('stop');
  assert.equal(u.code, 2);
  const flag = await p.cli('status', '--bogus');
  assert.equal(flag.code, 2);
});
