// The driver runs the machine's effects: timers on an injected clock, spawns and signals through
// injected functions. No processes here: a fake spawner stands in for the OS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceSpec } from '../../src/config/spec.js';
import type { SpawnCallbacks, SpawnRequest, Spawner } from '../../src/process/spawner.js';
import { FakeClock } from '../../src/supervisor/clock.js';
import { ServiceRunner, type DriverDeps } from '../../src/supervisor/driver.js';
import { serviceSpec } from './spec-fixture.js';

const spec: ServiceSpec = serviceSpec();

class FakeSpawner implements Spawner {
  calls: { request: SpawnRequest; callbacks: SpawnCallbacks }[] = [];
  spawn(request: SpawnRequest, callbacks: SpawnCallbacks): void {
    this.calls.push({ request, callbacks });
  }
  get last() {
    return this.calls.at(-1) as { request: SpawnRequest; callbacks: SpawnCallbacks };
  }
}

function setup(alive: (pgid: number) => boolean = () => false) {
  const clock = new FakeClock();
  const spawner = new FakeSpawner();
  const signals: string[] = [];
  const records: string[] = [];
  const tracked: (number | null)[] = [];
  const deps: DriverDeps = {
    spawner,
    clock,
    random: () => 0.5,
    commit: (_s, from, to, cause) => records.push(`${from}->${to}:${cause.kind}`),
    baseEnv: { PATH: '/bin', PORT: 'base' },
    openLog: () => ({ write() {}, note() {}, close() {} }),
    trackInstance: (_s, pid) => tracked.push(pid),
    groupAlive: alive,
    signalGroup: (pgid, signal) => signals.push(`${signal}->${pgid}`),
  };
  return { runner: new ServiceRunner(spec, deps), clock, spawner, signals, records, tracked };
}

test('spawn request carries command, directory and the spec environment over the base', () => {
  const { runner, spawner } = setup();
  runner.dispatch({ type: 'startRequested', cause: { kind: 'boot', enabled: true } });
  assert.deepEqual(spawner.last.request, {
    command: ['server', '--port', '1'],
    directory: '/srv',
    env: { PATH: '/bin', PORT: '1' },
  });
});

test('stop escalates to SIGKILL on the clock, and completes on exit', async () => {
  const { runner, clock, spawner, signals, records, tracked } = setup();
  runner.dispatch({ type: 'startRequested', cause: { kind: 'boot', enabled: true } });
  spawner.last.callbacks.done({ ok: true, pid: 500 });
  assert.equal(runner.publicState, 'running');
  runner.dispatch({ type: 'stopRequested', cause: { kind: 'shutdown' } });
  assert.deepEqual(signals, ['SIGTERM->500', 'SIGCONT->500']);
  clock.advance(1999);
  assert.deepEqual(signals, ['SIGTERM->500', 'SIGCONT->500']);
  clock.advance(1);
  assert.deepEqual(signals, ['SIGTERM->500', 'SIGCONT->500', 'SIGKILL->500']);
  const idle = runner.whenIdle();
  spawner.last.callbacks.onExit(null, 'SIGKILL');
  await idle;
  assert.equal(runner.publicState, 'stopped');
  assert.deepEqual(tracked, [500, null]);
  assert.deepEqual(records.slice(-2), ['running->stopping:shutdown', 'stopping->stopped:shutdown']);
  clock.advance(60_000);
  assert.deepEqual(signals, ['SIGTERM->500', 'SIGCONT->500', 'SIGKILL->500'], 'no timer left armed after the stop');
});

test('backoff timer fires on the clock and respawns; callbacks of an old child are ignored', () => {
  const { runner, clock, spawner, records } = setup();
  runner.dispatch({ type: 'startRequested', cause: { kind: 'boot', enabled: true } });
  const first = spawner.last.callbacks;
  first.done({ ok: true, pid: 600 });
  first.onExit(1, null);
  assert.equal(runner.publicState, 'backoff');
  clock.advance(99);
  assert.equal(spawner.calls.length, 1);
  clock.advance(1);
  assert.equal(spawner.calls.length, 2);
  spawner.last.callbacks.done({ ok: true, pid: 601 });
  first.onExit(1, null); // a duplicate report from the first child must not touch the second
  assert.equal(runner.publicState, 'running');
  assert.equal(runner.state.pid, 601);
  assert.deepEqual(records.at(-1), 'starting->running:restart');
});

test('a leader exit with members left waits for the group before restarting', () => {
  let members = true;
  const { runner, clock, spawner, signals } = setup(() => members);
  runner.dispatch({ type: 'startRequested', cause: { kind: 'boot', enabled: true } });
  spawner.last.callbacks.done({ ok: true, pid: 700 });
  clock.advance(20_000);
  spawner.last.callbacks.onExit(0, null);
  assert.equal(runner.publicState, 'stopping');
  assert.deepEqual(signals, ['SIGTERM->700', 'SIGCONT->700']);
  clock.advance(100);
  assert.equal(spawner.calls.length, 1, 'no new run while the old group lives');
  members = false;
  clock.advance(500);
  assert.equal(spawner.calls.length, 2, 'restarted once the group is empty');
});
