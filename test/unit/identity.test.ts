import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  parseStatLine,
  readStartTime,
  readProcStat,
  bootId,
  isSameProcess,
  groupMembers,
  groupAlive,
} from '../../src/process/identity.js';

// Every process we start leads its own group; after() kills each group by its pid.
const started: ChildProcess[] = [];
function startGroup(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { detached: true, stdio: 'ignore' });
  started.push(child);
  assert.ok(child.pid !== undefined, `spawn ${command}`);
  return child;
}
after(() => {
  for (const child of started) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Polls a condition for at most `ms` (tests only: the code under test never polls). */
async function eventually(check: () => boolean, ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('parseStatLine takes fields after the last parenthesis, whatever comm holds', () => {
  // A real-shaped line (fields 3..52); starttime is field 22 = 555. comm holds ") (" on purpose.
  const line =
    '4242 (my ) (evil) proc) S 17 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 555 2330624 ' +
    '200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n';
  assert.deepEqual(parseStatLine(line), {
    pid: 4242,
    comm: 'my ) (evil) proc',
    state: 'S',
    ppid: 17,
    pgrp: 4242,
    startTime: 555,
  });
  assert.equal(parseStatLine('garbage'), undefined);
  assert.equal(parseStatLine('12 (x) S 1 2'), undefined, 'too short');
});

test('readStartTime of a spawned child is stable and identifies it', () => {
  const child = startGroup('sleep', ['30']);
  const pid = child.pid!;
  const start = readStartTime(pid);
  assert.equal(typeof start, 'number');
  assert.equal(readStartTime(pid), start);
  assert.equal(isSameProcess(pid, start!), true);
  assert.equal(isSameProcess(pid, start! + 1), false);
  const stat = readProcStat(pid);
  assert.equal(stat?.pgrp, pid, 'detached child leads its own group');
  assert.equal(stat?.ppid, process.pid);
  assert.equal(readProcStat(process.pid)?.pid, process.pid);
});

test('a pid that cannot exist has no start time', () => {
  assert.equal(readStartTime(2 ** 22 + 12345), undefined);
  assert.equal(isSameProcess(2 ** 22 + 12345, 1), false);
});

test('bootId is a uuid', () => {
  assert.match(bootId(), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
});

test('groupMembers finds the leader and its grandchildren', async () => {
  const child = startGroup('sh', ['-c', 'sleep 30 & sleep 30']);
  const pid = child.pid!;
  assert.ok(await eventually(() => groupMembers(pid).length >= 2), `members: ${groupMembers(pid)}`);
  assert.ok(groupMembers(pid).every((p) => readProcStat(p)?.pgrp === pid));
  assert.equal(groupAlive(pid), true);
});

test('groupAlive turns false once the group is killed, zombie orphans or not', async () => {
  const child = startGroup('sh', ['-c', 'sleep 30 & sleep 30']);
  const pid = child.pid!;
  assert.ok(await eventually(() => groupMembers(pid).length >= 2));
  const exited = once(child, 'exit');
  process.kill(-pid, 'SIGKILL');
  await exited;
  assert.ok(await eventually(() => !groupAlive(pid)), `still alive: ${groupMembers(pid)}`);
  assert.deepEqual(groupMembers(pid), []);
});

test('pgid 0 and 1 are refused (they would signal our own group or everyone)', () => {
  assert.throws(() => groupAlive(0), /pgid/);
  assert.throws(() => groupAlive(1), /pgid/);
  assert.throws(() => groupMembers(-5), /pgid/);
});
