// The core guarantees against the real daemon, CLI and processes: restart forever with causes,
// stop kills whole trees, spawn errors back off, shutdown stops everything with cause shutdown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXTURES, groupHasLiveMembers, pidsInGroup, processAlive, Project, sleep, waitFor } from './harness.js';

test('a SIGKILLed service is restarted at once with the signal as cause', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('sleeper.toml', 'command = ["sleep", "1000"]\nbackoff = { reset_after = "200ms" }\n');
  await p.startDaemon();
  const first = await p.running('sleeper');
  await sleep(300); // past reset_after: this run counts as long, so the restart is immediate
  process.kill(first.pid as number, 'SIGKILL');
  await waitFor(async () => {
    const s = await p.service('sleeper');
    return s.state === 'running' && s.pid !== first.pid;
  }, 5000, () => 'not restarted');
  const s = await p.service('sleeper');
  assert.equal(s.restarts, 1);
  const events = await p.events('sleeper');
  const left = events.find((e) => e.from === 'running');
  assert.ok(left, JSON.stringify(events));
  assert.deepEqual(left.cause, { kind: 'signal', signal: 'SIGKILL' });
  assert.equal(left.to, 'starting', 'restarted at once, no backoff');
  const why = await p.cli('why', 'sleeper');
  assert.equal(why.code, 0);
  assert.match(why.stdout, /killed by SIGKILL/);
});

test('a crash loop keeps restarting after many failures, visible as backoff', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('crashy.toml', 'command = ["sh", "-c", "exit 3"]\nbackoff = { initial = "10ms", max = "40ms" }\n');
  await p.startDaemon();
  await waitFor(async () => (await p.service('crashy')).restarts >= 30, 20_000, () => 'fewer than 30 restarts');
  const s = await p.service('crashy');
  assert.notEqual(s.state, 'failed', 'never a terminal state');
  const events = await p.events('crashy');
  const backoffs = events.filter((e) => e.to === 'backoff');
  assert.ok(backoffs.length >= 30);
  for (const e of backoffs) assert.deepEqual(e.cause, { kind: 'exit', code: 3 });
  assert.ok(backoffs.every((e) => typeof e.detail?.nextAttemptAt === 'string'), 'next attempt time recorded');
  // Still going: the count keeps rising.
  await waitFor(async () => (await p.service('crashy')).restarts > s.restarts + 3, 5000, () => 'stopped restarting');
});

test('stop kills a whole tree that ignores SIGTERM before it returns', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('stubborn.toml', `command = ["${FIXTURES}/ignore-term.sh"]\nstop_timeout = "500ms"\n`);
  await p.startDaemon();
  const s = await p.running('stubborn');
  const pgid = s.pid as number;
  await waitFor(() => groupHasLiveMembers(pgid) && pidsInGroup(pgid).length >= 3, 5000, () => 'children not started');
  const r = await p.cli('stop', 'stubborn', '--reason', 'test stop');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(groupHasLiveMembers(pgid), false, 'no member of the process group may outlive the stop');
  const after = await p.service('stubborn');
  assert.equal(after.state, 'stopped');
  assert.equal(after.desired, 'stopped');
  const events = await p.events('stubborn');
  const last = events.at(-1);
  assert.equal(last?.to, 'stopped');
  assert.equal(last?.cause.kind, 'admin');
  assert.equal(last?.cause.reason, 'test stop');
  assert.equal(last?.cause.uid, process.getuid?.());
  assert.equal(last?.cause.command, 'stop');
});

test('a program that cannot be executed is a spawn-error, then backoff; the daemon goes on', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('missing.toml', 'command = ["/nonexistent/program"]\nbackoff = { initial = "20ms", max = "50ms" }\n');
  p.write('nodir.toml', 'command = ["sleep", "1000"]\ndirectory = "/nonexistent/dir"\n');
  p.write('fine.toml', 'command = ["sleep", "1000"]\n');
  const script = p.write('not-executable.sh', '#!/bin/sh\nexec sleep 1000\n'); // mode 0644: EACCES, even for root
  p.write('noexec.toml', `command = ["${script}"]\n`);
  await p.startDaemon();
  await p.running('fine');
  await waitFor(async () => (await p.events('noexec')).some((e) => e.cause.kind === 'spawn-error'), 5000, () => 'no EACCES');
  const denied = (await p.events('noexec')).find((e) => e.cause.kind === 'spawn-error');
  assert.equal(denied?.cause.errno, 'EACCES');
  assert.match(String(denied?.cause.message), /permission denied/);
  await waitFor(async () => (await p.service('missing')).restarts >= 3, 5000, () => 'missing not retried');
  const events = await p.events('missing');
  const err = events.find((e) => e.cause.kind === 'spawn-error');
  assert.ok(err);
  assert.equal(err.cause.errno, 'ENOENT');
  const nodir = (await p.events('nodir')).find((e) => e.cause.kind === 'spawn-error');
  assert.ok(nodir);
  assert.match(String(nodir.cause.message), /\/nonexistent\/dir/);
});

test('SIGTERM to the daemon stops every service with cause shutdown, then it exits', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('a.toml', 'command = ["sleep", "1000"]\n');
  p.write('b.toml', `command = ["${FIXTURES}/ignore-term.sh"]\nstop_timeout = "300ms"\n`);
  const daemon = await p.startDaemon();
  const a = await p.running('a');
  const b = await p.running('b');
  const code = await p.stopDaemon(daemon, 'SIGTERM');
  assert.equal(code, 0);
  assert.equal(processAlive(a.pid as number), false);
  assert.equal(groupHasLiveMembers(b.pid as number), false);
  // The event log says why: start a new daemon on the same state and read it.
  await p.startDaemon();
  const events = await p.events('a');
  assert.ok(events.some((e) => e.to === 'stopped' && e.cause.kind === 'shutdown'), JSON.stringify(events));
  // Shutdown is not an admin stop: the service comes back with the next daemon.
  await p.running('a');
});
