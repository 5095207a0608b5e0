// Durable desired state and crash recovery across a daemon SIGKILL: an admin stop stays stopped,
// and a service left running by the dead daemon is found by pid + start time and never doubled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, processAlive, Project, waitFor } from './harness.js';

test('an admin stop survives a daemon SIGKILL and restart', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('web.toml', 'command = ["sleep", "1000"]\n');
  p.write('other.toml', 'command = ["sleep", "1000"]\n');
  const d1 = await p.startDaemon();
  await p.running('web');
  await p.running('other');
  assert.equal((await p.cli('stop', 'web', '--reason', 'maintenance')).code, 0);
  await p.stopDaemon(d1, 'SIGKILL');
  await p.startDaemon();
  await p.running('other');
  const web = await p.service('web');
  assert.equal(web.state, 'stopped');
  assert.equal(web.desired, 'stopped');
  const why = await p.cli('why', 'web');
  assert.match(why.stdout, /maintenance/);
});

test('no duplicate after a daemon SIGKILL: the leftover is killed before the new start', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('single.toml', 'command = ["sleep", "1000"]\nstop_timeout = "1s"\n');
  const d1 = await p.startDaemon();
  const before = await p.running('single');
  const oldPid = before.pid as number;
  await p.stopDaemon(d1, 'SIGKILL');
  assert.ok(processAlive(oldPid), 'the service outlives a SIGKILLed daemon (own process group)');
  await p.startDaemon();
  const after = await p.running('single');
  assert.notEqual(after.pid, oldPid);
  assert.equal(processAlive(oldPid), false, 'the old copy is gone: exactly one instance');
  const events = await p.events('single');
  const recovered = events.find((e) => e.cause.kind === 'recovered');
  assert.ok(recovered, JSON.stringify(events));
  assert.equal(recovered.cause.pid, oldPid);
  assert.equal(recovered.cause.action, 'killed');
  const iRecovered = events.indexOf(recovered);
  const iStart = events.findIndex((e, i) => i > iRecovered && e.to === 'starting');
  assert.ok(iStart > iRecovered, 'killed before the new start');
});

test('a recorded pid reused by an unrelated process is not killed', async (t) => {
  // Simulated by a recorded start time that does not match: the process must be left alone.
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "1000"]\n');
  const d1 = await p.startDaemon();
  const s = await p.running('svc');
  await p.stopDaemon(d1, 'SIGKILL');
  // Tamper: make the record point at the same pid with another start time.
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(`${p.state}/state.db`);
  db.prepare('UPDATE instances SET start_time = start_time + 1').run();
  db.close();
  await p.startDaemon();
  await waitFor(async () => (await p.service('svc')).state === 'running', 5000, () => 'not running');
  assert.ok(processAlive(s.pid as number), 'a process whose start time differs is not ours');
  p.track(s.pid as number);
});

test('a second daemon on the same state folder refuses to start and touches nothing', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "1000"]\n');
  await p.startDaemon();
  const before = await p.running('svc');
  const second = spawn(process.execPath, [BIN, 'daemon', '--config', p.config, '--state', p.state, '--socket', `${p.dir}/other.sock`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  second.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((res) => second.on('close', res));
  assert.equal(code, 1);
  assert.match(err, /another upkeep daemon \(pid \d+\) is already using the state folder/);
  const after = await p.service('svc');
  assert.equal(after.pid, before.pid, 'the running service was not touched');
  assert.ok(processAlive(before.pid as number));
});
