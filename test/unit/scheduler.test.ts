/**
 * The start queue (guarantee 6: start storms converge): bounded starts in flight, lanes that
 * take turns so one tenant cannot hold everyone back, urgent core services first, and a slot
 * that frees whenever a start ends. `later` is driven by hand: no timers, no processes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StartScheduler, type QueueEntry } from '../../src/supervisor/scheduler.js';

function harness(maxConcurrent: number, perTurn = 100) {
  const launched: string[] = [];
  const turns: (() => void)[] = [];
  const s = new StartScheduler({ maxConcurrent, perTurn, launch: (n) => launched.push(n), later: (fn) => turns.push(fn) });
  const runTurns = () => {
    while (turns.length > 0) turns.shift()!();
  };
  return { s, launched, runTurns };
}

const entry = (name: string, lane = '', extra: Partial<QueueEntry> = {}): QueueEntry => ({ name, lane, priority: 0, urgent: false, ...extra });

describe('start scheduler', () => {
  test('never more than maxConcurrent in flight; a released slot launches the next', () => {
    const { s, launched, runTurns } = harness(2);
    for (const n of ['a', 'b', 'c', 'd']) s.push(entry(n));
    runTurns();
    assert.deepEqual(launched, ['a', 'b']);
    assert.equal(s.active, 2);
    s.release('a');
    runTurns();
    assert.deepEqual(launched, ['a', 'b', 'c']);
    s.release('zzz'); // not in flight: nothing happens
    runTurns();
    assert.deepEqual(launched, ['a', 'b', 'c']);
  });

  test("lanes take turns: one tenant's 200 services do not delay the others", () => {
    const { s, launched, runTurns } = harness(1000);
    for (let i = 0; i < 200; i++) s.push(entry(`big/s${i}`, 'big'));
    s.push(entry('small/a', 'small'));
    s.push(entry('tiny/a', 'tiny'));
    assert.deepEqual([...s.positions()].slice(0, 4), [['big/s0', 1], ['small/a', 2], ['tiny/a', 3], ['big/s1', 4]]);
    runTurns();
    assert.deepEqual(launched.slice(0, 4), ['big/s0', 'small/a', 'tiny/a', 'big/s1']);
    assert.equal(launched.length, 202);
  });

  test('urgent entries go first; priority orders a lane; admin starts go to the front of their lane', () => {
    const { s, launched, runTurns } = harness(1000);
    s.push(entry('t/low', 't'));
    s.push(entry('t/high', 't', { priority: 10 }));
    s.push(entry('sso', '', { urgent: true }));
    s.push(entry('t/admin', 't', { front: true }));
    s.push(entry('web', ''));
    assert.deepEqual([...s.positions().keys()], ['sso', 't/high', 'web', 't/admin', 't/low']);
    runTurns();
    assert.deepEqual(launched, ['sso', 't/high', 'web', 't/admin', 't/low']);
  });

  test('a pushed name replaces its queued entry; removed names never launch', () => {
    const { s, launched, runTurns } = harness(10);
    s.push(entry('a'));
    s.push(entry('b'));
    s.push(entry('a', '', { priority: 5 }));
    assert.equal(s.queued, 2);
    assert.equal(s.remove('b'), true);
    assert.equal(s.remove('b'), false);
    runTurns();
    assert.deepEqual(launched, ['a']);
  });

  test('launches are spread over turns', () => {
    const { s, launched } = harness(100, 3);
    const turns: (() => void)[] = [];
    const s2 = new StartScheduler({ maxConcurrent: 100, perTurn: 3, launch: (n) => launched.push(n), later: (fn) => turns.push(fn) });
    for (let i = 0; i < 7; i++) s2.push(entry(`x${i}`));
    turns.shift()!();
    assert.equal(launched.length, 3);
    turns.shift()!();
    assert.equal(launched.length, 6);
    turns.shift()!();
    assert.equal(launched.length, 7);
    assert.equal(turns.length, 0);
    assert.equal(s.queued, 0);
  });
});

describe('dependencies', () => {
  test('after waits for wanted services to be running; requires for any service, even a stopped or missing one', async () => {
    const { unmetDependencies } = await import('../../src/supervisor/dependencies.js');
    const states: Record<string, 'running' | 'starting' | 'stopped'> = { db: 'starting', cache: 'stopped', log: 'running' };
    const wanted: Record<string, boolean> = { db: true, cache: false, log: true };
    const view = { state: (n: string) => states[n], wantedRunning: (n: string) => wanted[n] ?? false };
    assert.deepEqual(unmetDependencies({ name: 'web', after: ['db', 'cache', 'log', 'ghost'], requires: [] }, view), ['db']);
    assert.deepEqual(unmetDependencies({ name: 'web', after: [], requires: ['db', 'cache', 'log', 'ghost'] }, view), ['db', 'cache', 'ghost']);
    assert.deepEqual(unmetDependencies({ name: 'web', after: ['db'], requires: ['db'] }, view), ['db']);
  });
});
