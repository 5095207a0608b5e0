// The state store on a real SQLite file: round trips, durability across reopen, and safe mode
// for corrupt, unwritable and failing databases (the file is never deleted or rewritten).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import Database from 'better-sqlite3';
import type { EventRecord } from '../../src/store/types.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ev = (service: string, time: number, code = 1): EventRecord => ({
  time,
  service,
  from: 'running',
  to: 'backoff',
  cause: { kind: 'exit', code },
  detail: { pid: 42, nextAttemptAt: '2026-01-01T00:00:00.000Z' },
});

test('events round-trip with causes, increasing seq and service/since/limit filters', (t) => {
  const dir = tempDir(t);
  const store = openStore(dir);
  assert.equal(store.mode, 'ok');
  for (let i = 0; i < 10; i++) store.appendEvent(ev(i % 2 ? 'a' : 'b', 1000 + i, i));
  const all = store.events();
  assert.equal(all.length, 10);
  assert.ok(all.every((e, i) => i === 0 || (e.seq as number) > (all[i - 1]?.seq as number)));
  assert.deepEqual(all[3]?.cause, { kind: 'exit', code: 3 });
  assert.deepEqual(all[3]?.detail, { pid: 42, nextAttemptAt: '2026-01-01T00:00:00.000Z' });
  assert.deepEqual(store.events({ service: 'a' }).map((e) => e.time), [1001, 1003, 1005, 1007, 1009]);
  assert.deepEqual(store.events({ since: 1007 }).map((e) => e.time), [1007, 1008, 1009]);
  assert.deepEqual(store.events({ service: 'b', limit: 2 }).map((e) => e.time), [1006, 1008], 'newest N, oldest first');
  store.close();
  const again = openStore(dir);
  assert.equal(again.events().length, 10, 'events are durable');
  const next = again.appendEvent(ev('a', 2000));
  assert.equal(next.seq, (all.at(-1)?.seq as number) + 1, 'seq continues after reopen');
  again.close();
});

test('desired state, instances and meta survive close and reopen', (t) => {
  const dir = tempDir(t);
  const store = openStore(dir);
  store.setDesired('web', { state: 'stopped', enabled: false, updatedAt: 5 });
  store.recordInstance({ service: 'web', pid: 123, startTime: 456, bootId: 'b1' });
  store.recordInstance({ service: 'db', pid: 124, startTime: 457, bootId: 'b1' });
  store.clearInstance('db');
  store.setMeta('boot_id', 'b1');
  store.close();
  const again = openStore(dir);
  assert.deepEqual(again.getDesired('web'), { state: 'stopped', enabled: false, updatedAt: 5 });
  assert.equal(again.getDesired('nope'), undefined);
  assert.deepEqual(again.instances(), [{ service: 'web', pid: 123, startTime: 456, bootId: 'b1' }]);
  assert.equal(again.getMeta('boot_id'), 'b1');
  again.close();
});

test('a garbage database file: safe mode, problem names the file, bytes unchanged', (t) => {
  const dir = tempDir(t);
  const db = join(dir, 'state.db');
  const garbage = Buffer.from('definitely not sqlite\n'.repeat(500));
  writeFileSync(db, garbage);
  const store = openStore(dir);
  assert.equal(store.mode, 'safe');
  assert.match(store.problem as string, /state\.db/);
  assert.match(store.problem as string, /safe mode/);
  store.appendEvent(ev('a', 1));
  store.setDesired('a', { state: 'stopped', enabled: true, updatedAt: 1 });
  assert.equal(store.events().length, 1, 'still usable, in memory');
  assert.equal(store.getDesired('a')?.state, 'stopped');
  store.close();
  assert.ok(readFileSync(db).equals(garbage), 'the file is never rewritten');
});

test('an unusable state folder: safe mode, nothing created', (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'file'), 'x');
  const store = openStore(join(dir, 'file', 'state')); // ENOTDIR even for root
  assert.equal(store.mode, 'safe');
  assert.match(store.problem as string, /ENOTDIR/);
  const dirAsDb = join(dir, 'd');
  mkdirSync(join(dirAsDb, 'state.db'), { recursive: true }); // a directory where the file should be
  const store2 = openStore(dirAsDb);
  assert.equal(store2.mode, 'safe');
  assert.ok(existsSync(join(dirAsDb, 'state.db')));
});

test('a write failure at runtime switches to safe mode without throwing', (t) => {
  const dir = tempDir(t);
  const store = new SqliteStore(join(dir, 'state.db'));
  store.appendEvent(ev('a', 1));
  store.flush();
  // Break the database under the store: drop the table its writes need.
  const other = new Database(join(dir, 'state.db'));
  other.exec('DROP TABLE events');
  other.close();
  assert.doesNotThrow(() => {
    store.appendEvent(ev('a', 2));
    store.flush();
  });
  assert.equal(store.mode, 'safe');
  assert.match(store.problem as string, /state\.db/);
  store.appendEvent(ev('a', 3));
  assert.ok(store.events().some((e) => e.time === 3), 'keeps working from memory');
  store.close();
});

test('10,000 appended events (timing printed, not asserted)', (t) => {
  const dir = tempDir(t);
  const store = openStore(dir);
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) store.appendEvent(ev(`s${i % 100}`, i));
  store.events({ limit: 1 });
  console.log(`10000 appendEvent + flush: ${(performance.now() - t0).toFixed(1)} ms`);
  assert.equal(store.events({ service: 's7' }).length, 100);
  store.close();
});
