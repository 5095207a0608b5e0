// Live views: `events --follow` streams each change as it is committed, `logs -f` streams output;
// enable/disable decide what starts after a reboot (a new kernel boot id).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { BIN, Project, waitFor } from './harness.js';

test('events --follow streams changes as they happen', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "1000"]\n');
  await p.startDaemon();
  await p.running('svc');
  const follower = spawn(process.execPath, [BIN, 'events', 'svc', '--follow', '--json', '-n', '1', '--socket', p.socket], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => follower.kill('SIGKILL'));
  let out = '';
  follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes('\n'), 5000, () => `no initial event: ${out}`);
  const r = await p.cli('stop', 'svc', '--reason', 'follow test');
  assert.equal(r.code, 0);
  await waitFor(() => out.includes('"to":"stopped"'), 5000, () => `stop not streamed: ${out}`);
  const streamed = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { to: string; cause: { kind: string; reason?: string } });
  const stopped = streamed.find((e) => e.to === 'stopped');
  assert.equal(stopped?.cause.kind, 'admin');
  assert.equal(stopped?.cause.reason, 'follow test');
});

test('logs -f streams new output of the service', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('ticker.toml', 'command = ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]\n');
  await p.startDaemon();
  await p.running('ticker');
  const follower = spawn(process.execPath, [BIN, 'logs', 'ticker', '-f', '-n', '0', '--socket', p.socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => follower.kill('SIGKILL'));
  let out = '';
  follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor(() => (out.match(/tick \d+/g) ?? []).length >= 3, 5000, () => `no live output: ${out}`);
});

test('after a reboot a disabled service stays stopped and an enabled one starts', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('on.toml', 'command = ["sleep", "1000"]\n');
  p.write('off.toml', 'command = ["sleep", "1000"]\n');
  const d1 = await p.startDaemon();
  await p.running('on');
  await p.running('off');
  assert.equal((await p.cli('disable', 'off')).code, 0);
  assert.equal((await p.service('off')).state, 'running', 'disable does not stop now');
  await p.stopDaemon(d1, 'SIGTERM');
  // A daemon restart within one boot restores the desired state as it was...
  const d2 = await p.startDaemon();
  await p.running('off');
  await p.stopDaemon(d2, 'SIGTERM');
  // ...a new boot (another kernel boot id) starts only what is enabled.
  const db = new Database(`${p.state}/state.db`);
  db.prepare("UPDATE meta SET value = 'another-boot' WHERE key = 'boot_id'").run();
  db.close();
  await p.startDaemon();
  await p.running('on');
  const off = await p.service('off');
  assert.equal(off.state, 'stopped');
  assert.equal(off.desired, 'stopped');
});
