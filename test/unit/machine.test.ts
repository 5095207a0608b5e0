// Table-style tests of the pure state machine and the backoff policy: no processes, `now` passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, step, type Effect, type MachineEvent, type MachineSpec, type ServiceState } from '../../src/supervisor/machine.js';
import { nextAttempt, restartDelay } from '../../src/supervisor/backoff.js';
import type { Cause } from '../../src/supervisor/causes.js';

const spec: MachineSpec = {
  restart: 'always',
  backoff: { initialMs: 100, maxMs: 60_000, resetAfterMs: 10_000 },
  stopSignal: 'SIGTERM',
  stopTimeoutMs: 10_000,
  ready: 'started',
  startTimeoutMs: 30_000,
};
const admin: Cause = { kind: 'admin', command: 'stop', uid: 0, socket: '/tmp/s', reason: 'maintenance' };
const T0 = 1_000_000;

/** Runs events through the machine, returning the final state and all effects. */
function run(events: [number, MachineEvent][], s: MachineSpec = spec, from: ServiceState = initialState(T0)) {
  let state = from;
  const effects: Effect[] = [];
  for (const [at, event] of events) {
    const r = step(state, event, { spec: s, now: T0 + at, random: () => 0.5 });
    state = r.state;
    effects.push(...r.effects);
  }
  return { state, effects };
}
const records = (effects: Effect[]) =>
  effects.filter((e) => e.type === 'record').map((e) => (e.type === 'record' ? `${e.from}->${e.to}:${e.cause.kind}` : ''));

const started: [number, MachineEvent][] = [
  [0, { type: 'startRequested', cause: { kind: 'boot', enabled: true } }],
  [1, { type: 'spawned', pid: 4242 }],
];

test('start spawns, then runs with the pid', () => {
  const { state, effects } = run(started);
  assert.equal(state.phase, 'running');
  assert.equal(state.pid, 4242);
  assert.deepEqual(records(effects), ['stopped->starting:boot', 'starting->running:boot']);
  assert.deepEqual(effects.filter((e) => e.type === 'spawn').length, 1);
});

test('restart after SIGKILL of a long-running service happens at once, cause is the signal', () => {
  const { state, effects } = run([...started, [20_000, { type: 'exited', code: null, signal: 'SIGKILL', groupAlive: false }]]);
  assert.equal(state.phase, 'starting');
  assert.equal(state.restarts, 1);
  assert.equal(state.attempt, 0);
  assert.deepEqual(records(effects).slice(2), ['running->starting:signal']);
  assert.equal(effects.filter((e) => e.type === 'spawn').length, 2);
});

test('a quick crash backs off with capped exponential delay, forever', () => {
  let r = run(started);
  let t = 10;
  const delays: number[] = [];
  for (let i = 0; i < 40; i++) {
    r = run([[t, { type: 'exited', code: 1, signal: null, groupAlive: false }]], spec, r.state);
    assert.equal(r.state.phase, 'backoff', `attempt ${i}`);
    const arm = r.effects.find((e) => e.type === 'armTimer');
    assert.ok(arm && arm.type === 'armTimer' && arm.timer === 'backoff');
    delays.push(arm.ms);
    t += arm.ms;
    r = run([[t, { type: 'timerFired', timer: 'backoff' }], [t + 1, { type: 'spawned', pid: 5000 + i }]], spec, r.state);
    assert.equal(r.state.phase, 'running');
    t += 10;
  }
  assert.deepEqual(delays.slice(0, 4), [100, 200, 400, 800]);
  assert.equal(delays.at(-1), 60_000, 'capped at max, never gives up');
  assert.equal(r.state.restarts, 40);
});

test('crash loop event carries the next attempt time', () => {
  const { effects } = run([...started, [10, { type: 'exited', code: 3, signal: null, groupAlive: false }]]);
  const rec = effects.filter((e) => e.type === 'record').at(-1);
  assert.ok(rec && rec.type === 'record');
  assert.equal(rec.to, 'backoff');
  assert.deepEqual(rec.cause, { kind: 'exit', code: 3 });
  assert.equal(rec.detail?.nextAttemptAt, new Date(T0 + 10 + 100).toISOString());
});

test('spawn error backs off with cause spawn-error', () => {
  const { state, effects } = run([
    [0, { type: 'startRequested', cause: { kind: 'boot', enabled: true } }],
    [1, { type: 'spawnFailed', errno: 'ENOENT', message: 'program x not found' }],
  ]);
  assert.equal(state.phase, 'backoff');
  assert.deepEqual(records(effects), ['stopped->starting:boot', 'starting->backoff:spawn-error']);
});

test('admin stop signals the group, escalates to SIGKILL at stop_timeout, cause stays admin', () => {
  const { state, effects } = run([
    ...started,
    [100, { type: 'stopRequested', cause: admin }],
    [10_100, { type: 'timerFired', timer: 'stop' }],
    [10_150, { type: 'exited', code: null, signal: 'SIGKILL', groupAlive: false }],
  ]);
  assert.equal(state.phase, 'stopped');
  const signals = effects.filter((e) => e.type === 'signal').map((e) => (e.type === 'signal' ? e.signal : ''));
  assert.deepEqual(signals, ['SIGTERM', 'SIGKILL']);
  assert.deepEqual(records(effects).slice(2), ['running->stopping:admin', 'stopping->stopped:admin']);
});

test('a stop is complete only when the whole group is gone', () => {
  const { state, effects } = run([
    ...started,
    [100, { type: 'stopRequested', cause: admin }],
    [110, { type: 'exited', code: 0, signal: null, groupAlive: true }],
  ]);
  assert.equal(state.phase, 'stop-signal');
  assert.ok(effects.some((e) => e.type === 'awaitGroupEmpty'));
  const done = run([[10_100, { type: 'timerFired', timer: 'stop' }], [10_120, { type: 'groupEmptied' }]], spec, state);
  assert.equal(done.state.phase, 'stopped');
  assert.deepEqual(records(done.effects), ['stopping->stopped:admin']);
});

test('leader exit with leftovers: the group is stopped before the restart', () => {
  const { state, effects } = run([...started, [20_000, { type: 'exited', code: 1, signal: null, groupAlive: true }]]);
  assert.equal(state.phase, 'stop-signal');
  assert.ok(effects.some((e) => e.type === 'signal'));
  const after = run([[20_050, { type: 'groupEmptied' }]], spec, state);
  assert.equal(after.state.phase, 'starting');
  assert.deepEqual(records(after.effects), ['stopping->starting:exit']);
});

test('stop during backoff cancels the retry', () => {
  const { state, effects } = run([
    ...started,
    [10, { type: 'exited', code: 1, signal: null, groupAlive: false }],
    [20, { type: 'stopRequested', cause: admin }],
  ]);
  assert.equal(state.phase, 'stopped');
  assert.ok(effects.some((e) => e.type === 'cancelTimer' && e.timer === 'backoff'));
});

test('admin start during backoff starts at once', () => {
  const { state, effects } = run([
    ...started,
    [10, { type: 'exited', code: 1, signal: null, groupAlive: false }],
    [20, { type: 'startRequested', cause: admin }],
  ]);
  assert.equal(state.phase, 'starting');
  assert.equal(effects.filter((e) => e.type === 'spawn').length, 2);
});

test('restart = never: failure is failed, success is stopped', () => {
  const never = { ...spec, restart: 'never' as const };
  assert.equal(run([...started, [10, { type: 'exited', code: 2, signal: null, groupAlive: false }]], never).state.phase, 'failed');
  assert.equal(run([...started, [10, { type: 'exited', code: 0, signal: null, groupAlive: false }]], never).state.phase, 'stopped');
});

test('restart = on-failure: a clean exit rests, a crash restarts', () => {
  const onFailure = { ...spec, restart: 'on-failure' as const };
  assert.equal(run([...started, [10, { type: 'exited', code: 0, signal: null, groupAlive: false }]], onFailure).state.phase, 'stopped');
  assert.equal(run([...started, [10, { type: 'exited', code: 1, signal: null, groupAlive: false }]], onFailure).state.phase, 'backoff');
});

test('admin restart stops then starts, without backoff', () => {
  const { state, effects } = run([
    ...started,
    [50, { type: 'restartRequested', cause: admin }],
    [60, { type: 'exited', code: null, signal: 'SIGTERM', groupAlive: false }],
  ]);
  assert.equal(state.phase, 'starting');
  assert.deepEqual(records(effects).slice(2), ['running->stopping:admin', 'stopping->starting:admin']);
});

test('stop while the spawn is in flight stops the new process as soon as it exists', () => {
  const { state, effects } = run([
    [0, { type: 'startRequested', cause: { kind: 'boot', enabled: true } }],
    [1, { type: 'stopRequested', cause: admin }],
    [2, { type: 'spawned', pid: 77 }],
  ]);
  assert.equal(state.phase, 'stop-signal');
  assert.ok(effects.some((e) => e.type === 'signal' && e.signal === 'SIGTERM'));
});

test('a second stop cause does not replace the first', () => {
  const shutdown: Cause = { kind: 'shutdown', signal: 'SIGTERM' };
  const { effects } = run([
    ...started,
    [10, { type: 'stopRequested', cause: admin }],
    [11, { type: 'stopRequested', cause: shutdown }],
    [12, { type: 'exited', code: 0, signal: null, groupAlive: false }],
  ]);
  assert.deepEqual(records(effects).slice(2), ['running->stopping:admin', 'stopping->stopped:admin']);
});

test('stale events are ignored in every idle phase', () => {
  const stale: MachineEvent[] = [
    { type: 'spawned', pid: 1 },
    { type: 'exited', code: 0, signal: null, groupAlive: false },
    { type: 'groupEmptied' },
    { type: 'timerFired', timer: 'stop' },
  ];
  for (const event of stale) {
    const r = run([[0, event]]);
    assert.equal(r.state.phase, 'stopped');
    assert.deepEqual(r.effects, []);
  }
});

test('restartDelay: zero after a long run, doubling, capped, jittered within ±20%', () => {
  const policy = spec.backoff;
  assert.equal(restartDelay(0, policy, () => 0.9), 0);
  assert.equal(restartDelay(1, policy, () => 0.5), 100);
  assert.equal(restartDelay(1, policy, () => 0), 80);
  assert.equal(restartDelay(1, policy, () => 1), 120);
  assert.equal(restartDelay(3, policy, () => 0.5), 400);
  assert.equal(restartDelay(1000, policy, () => 1), 60_000);
  assert.equal(nextAttempt(5, 10_000, policy), 0);
  assert.equal(nextAttempt(5, 9_999, policy), 6);
});

// --- liveness and readiness ---------------------------------------------------------------

const notify: MachineSpec = { ...spec, ready: 'notify', startTimeoutMs: 5000 };
const spawnedNotify: [number, MachineEvent][] = [
  [0, { type: 'startRequested', cause: { kind: 'boot', enabled: true } }],
  [1, { type: 'spawned', pid: 900 }],
];

test('ready = notify: starting until READY=1, with the start timeout armed', () => {
  const r = run(spawnedNotify, notify);
  assert.equal(r.state.phase, 'starting');
  assert.ok(r.effects.some((e) => e.type === 'armTimer' && e.timer === 'start' && e.ms === 5000));
  const ready = run([[300, { type: 'readyNotified' }]], notify, r.state);
  assert.equal(ready.state.phase, 'running');
  assert.ok(ready.effects.some((e) => e.type === 'cancelTimer' && e.timer === 'start'));
  assert.deepEqual(records(ready.effects), ['starting->running:boot']);
});

test('a missing READY hits start_timeout: stopped with cause start-timeout, then backoff', () => {
  const r = run([...spawnedNotify, [5001, { type: 'timerFired', timer: 'start' }], [5010, { type: 'exited', code: null, signal: 'SIGTERM', groupAlive: false }]], notify);
  assert.equal(r.state.phase, 'backoff');
  assert.deepEqual(records(r.effects).slice(1), ['starting->stopping:start-timeout', 'stopping->backoff:start-timeout']);
});

test('EXTEND_TIMEOUT_USEC re-arms the start timeout, and the stop timeout while stopping', () => {
  const r = run([...spawnedNotify, [100, { type: 'timeoutExtended', ms: 60_000 }]], notify);
  assert.deepEqual(r.effects.at(-1), { type: 'armTimer', timer: 'start', ms: 60_000 });
  const stopping = run([[200, { type: 'stopRequested', cause: admin }], [300, { type: 'timeoutExtended', ms: 20_000 }]], notify, r.state);
  assert.deepEqual(stopping.effects.at(-1), { type: 'armTimer', timer: 'stop', ms: 20_000 });
});

test('watchdog: pings re-arm it; a missed ping sends SIGABRT with cause watchdog and the last heartbeat', () => {
  const wd: MachineSpec = { ...spec, watchdogMs: 1000 };
  const r = run([...started, [500, { type: 'watchdogPinged' }], [1400, { type: 'watchdogPinged' }]], wd);
  const arms = r.effects.filter((e) => e.type === 'armTimer' && e.timer === 'watchdog');
  assert.equal(arms.length, 3, 'armed when running, re-armed by each ping');
  const hung = run([[2400, { type: 'timerFired', timer: 'watchdog' }]], wd, r.state);
  assert.equal(hung.state.phase, 'stop-signal');
  assert.ok(hung.effects.some((e) => e.type === 'signal' && e.signal === 'SIGABRT'));
  const rec = hung.effects.find((e) => e.type === 'record');
  assert.ok(rec && rec.type === 'record');
  assert.deepEqual(rec.cause, { kind: 'watchdog', lastHeartbeat: new Date(T0 + 1400).toISOString() });
  // SIGABRT ignored: stop_timeout still ends in SIGKILL, the cause stays watchdog.
  const killed = run([[12_400, { type: 'timerFired', timer: 'stop' }], [12_410, { type: 'exited', code: null, signal: 'SIGKILL', groupAlive: false }]], wd, hung.state);
  assert.ok(killed.effects.some((e) => e.type === 'signal' && e.signal === 'SIGKILL'));
  assert.deepEqual(records(killed.effects), ['stopping->starting:watchdog']);
});

test('health: `failures` consecutive failed probes restart with cause health; a pass resets the count', () => {
  const hs: MachineSpec = { ...spec, health: { tcp: '127.0.0.1:1', intervalMs: 1000, timeoutMs: 200, failures: 3, successes: 1, graceMs: 0 } };
  const fail = (at: number): [number, MachineEvent] => [at, { type: 'probeResult', ok: false, output: 'connect ECONNREFUSED' }];
  const r = run([...started, fail(1000), fail(2000), [3000, { type: 'probeResult', ok: true, output: 'connected' }], fail(4000), fail(5000)], hs);
  assert.ok(r.effects.some((e) => e.type === 'probes' && e.on), 'probes start with the run');
  assert.equal(r.state.phase, 'running');
  const third = run([fail(6000)], hs, r.state);
  assert.equal(third.state.phase, 'stop-signal');
  assert.ok(third.effects.some((e) => e.type === 'probes' && !e.on), 'probes stop with the run');
  const rec = third.effects.find((e) => e.type === 'record');
  assert.ok(rec && rec.type === 'record');
  assert.deepEqual(rec.cause, { kind: 'health', output: 'connect ECONNREFUSED' });
});

test('ready = health: the first passing probe makes the service running', () => {
  const hs: MachineSpec = { ...spec, ready: 'health', health: { http: 'http://127.0.0.1:1/', intervalMs: 500, timeoutMs: 200, failures: 3, successes: 2, graceMs: 0 } };
  const r = run([...started, [100, { type: 'probeResult', ok: false, output: 'refused' }]], hs);
  assert.equal(r.state.phase, 'starting');
  const once = run([[600, { type: 'probeResult', ok: true, output: 'HTTP 200' }]], hs, r.state);
  assert.equal(once.state.phase, 'starting', 'successes = 2: one pass is not enough');
  const ok = run([[1100, { type: 'probeResult', ok: true, output: 'HTTP 200' }]], hs, once.state);
  assert.equal(ok.state.phase, 'running');
});

test('health grace: failures right after a start do not count', () => {
  const hs: MachineSpec = { ...spec, health: { exec: ['false'], intervalMs: 100, timeoutMs: 50, failures: 1, successes: 1, graceMs: 5000 } };
  const early = run([...started, [1000, { type: 'probeResult', ok: false, output: 'exit code 1' }]], hs);
  assert.equal(early.state.phase, 'running');
  const late = run([[6000, { type: 'probeResult', ok: false, output: 'exit code 1' }]], hs, early.state);
  assert.equal(late.state.phase, 'stop-signal');
});
