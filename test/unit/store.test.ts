// The state store: durable desired state and event log (guarantees 2 and 3), and read-only safe
// mode for a corrupt or unwritable database that never touches the file (guarantee 7).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/open.js';
import { SqliteStore, SCHEMA_VERSION } from '../../src/store/sqlite.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { EventRecord, Store } from '../../src/store/types.js';
import type { Cause } from '../../src/supervisor/causes.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-store-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;
const stateDir = () => path.join(root, `case${n++}`);
const admin: Cause = { kind: 'admin', command: 'stop', uid: 0, user: 'root', socket: '/run/upkeep.sock', reason: 'maintenance "window"' };
const ev = (service: string, time: number, cause: Cause = { kind: 'exit', code: 1 }): EventRecord => ({
  time,
  service,
  from: 'running',
  to: 'backoff',
  cause,
});
const strip = (events: EventRecord[]) => events.map((e) => `${e.service}@${e.time}`);

test('events round-trip: cause JSON kept, seq increasing, service/since/limit filters', (t) => {
  const store = openStore(stateDir());
  t.after(() => store.close());
  assert.equal(store.mode, 'ok');
  assert.equal(store.problem, undefined);
  const first = store.appendEvent({ ...ev('web', 1000, admin), detail: { pid: 42, next: null } });
  const seqs = [first.seq!];
  for (const [service, time] of [['db', 2000], ['web', 3000], ['db', 4000], ['web', 5000]] as const) {
    seqs.push(store.appendEvent(ev(service, time, { kind: 'signal', signal: 'SIGKILL' })).seq!);
  }
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `seq increasing: ${seqs}`);

  const all = store.events();
  assert.deepEqual(strip(all), ['web@1000', 'db@2000', 'web@3000', 'db@4000', 'web@5000']);
  assert.deepEqual(all[0], { seq: first.seq, time: 1000, service: 'web', from: 'running', to: 'backoff', cause: admin, detail: { pid: 42, next: null } });
  assert.equal('detail' in all[1]!, false, 'no detail stays absent');
  assert.deepEqual(strip(store.events({ service: 'web' })), ['web@1000', 'web@3000', 'web@5000']);
  assert.deepEqual(strip(store.events({ since: 3000 })), ['web@3000', 'db@4000', 'web@5000']);
  assert.deepEqual(strip(store.events({ limit: 2 })), ['db@4000', 'web@5000'], 'newest N, oldest first');
  assert.deepEqual(strip(store.events({ service: 'web', since: 2000, limit: 1 })), ['web@5000']);
  assert.deepEqual(store.events({ limit: 0 }), []);
  assert.deepEqual(store.events({ service: 'nope' }), []);
});

test('desired state survives close and reopen (an admin stop stays stopped)', () => {
  const dir = stateDir();
  const a = openStore(dir);
  assert.equal(a.getDesired('web'), undefined);
  a.setDesired('web', { state: 'stopped', enabled: true, updatedAt: 10 });
  a.setDesired('db', { state: 'running', enabled: false, updatedAt: 11 });
  a.setDesired('web', { state: 'stopped', enabled: false, updatedAt: 12 });
  a.appendEvent(ev('web', 1));
  a.close();
  const b = openStore(dir);
  assert.equal(b.mode, 'ok');
  assert.deepEqual(b.getDesired('web'), { state: 'stopped', enabled: false, updatedAt: 12 });
  assert.deepEqual(b.getDesired('db'), { state: 'running', enabled: false, updatedAt: 11 });
  assert.equal(b.events().length, 1);
  assert.equal(b.appendEvent(ev('web', 2)).seq, b.events()[0]!.seq! + 1, 'seq continues after reopen');
  b.close();
});

test('instances and meta: record, clear, list across reopen', () => {
  const dir = stateDir();
  const a = openStore(dir);
  a.recordInstance({ service: 'web', pid: 100, startTime: 5555, bootId: 'boot-1' });
  a.recordInstance({ service: 'db', pid: 200, startTime: 6666, bootId: 'boot-1' });
  a.recordInstance({ service: 'web', pid: 101, startTime: 5600, bootId: 'boot-1' });
  a.clearInstance('db');
  a.clearInstance('never-recorded');
  a.setMeta('boot_id', 'boot-1');
  a.setMeta('boot_id', 'boot-2');
  a.close();
  const b = openStore(dir);
  assert.deepEqual(b.instances(), [{ service: 'web', pid: 101, startTime: 5600, bootId: 'boot-1' }]);
  assert.equal(b.getMeta('boot_id'), 'boot-2');
  assert.equal(b.getMeta('missing'), undefined);
  b.close();
});

test('events and instances commit at the end of the event-loop turn; desired state at once', async () => {
  const dir = stateDir();
  const store = openStore(dir);
  const other = new Database(path.join(dir, 'state.db'), { readonly: true });
  const count = (table: string) => (other.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  store.appendEvent(ev('web', 1));
  store.recordInstance({ service: 'web', pid: 1, startTime: 2, bootId: 'b' });
  assert.equal(store.events().length, 1, 'the store reads its own uncommitted rows');
  assert.equal(count('events'), 0, 'not committed yet');
  store.setDesired('web', { state: 'stopped', enabled: true, updatedAt: 1 });
  assert.equal(count('desired'), 1, 'admin intent commits at once');
  assert.equal(count('events'), 1, '...together with what the turn wrote before it');
  store.appendEvent(ev('web', 2));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(count('events'), 2, 'committed by the end of the turn');
  assert.equal(count('instances'), 1);
  other.close();
  store.close();
});

test('a missing state dir is created (recursive, mode 0700) with a versioned schema', () => {
  const dir = path.join(stateDir(), 'deep', 'state');
  openStore(dir).close();
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
  const db = new Database(path.join(dir, 'state.db'), { readonly: true });
  assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  db.close();
});

/** The store still works from memory and says so. */
function assertUsableInMemory(store: Store): void {
  const e = store.appendEvent(ev('web', 7));
  assert.deepEqual(store.events({ service: 'web' }).at(-1), e);
  store.setDesired('web', { state: 'stopped', enabled: true, updatedAt: 1 });
  assert.equal(store.getDesired('web')?.state, 'stopped');
  store.recordInstance({ service: 'web', pid: 1, startTime: 2, bootId: 'b' });
  assert.equal(store.instances().length, 1);
  store.setMeta('k', 'v');
  assert.equal(store.getMeta('k'), 'v');
}

test('a garbage state.db: safe mode, problem names the file, bytes unchanged, usable in memory', () => {
  const dir = stateDir();
  fs.mkdirSync(dir);
  const file = path.join(dir, 'state.db');
  const garbage = Buffer.from("this is not a database, but it is somebody's data\n".repeat(200));
  fs.writeFileSync(file, garbage);
  const store = openStore(dir);
  assert.equal(store.mode, 'safe');
  assert.equal(store.path, file);
  assert.ok(store.problem?.includes(file), store.problem);
  assert.match(store.problem!, /corrupt \(SQLITE_NOTADB: file is not a database\); running in read-only safe mode/);
  assert.match(store.problem!, /Move the file aside and restart the daemon/);
  assertUsableInMemory(store);
  store.close();
  assert.ok(fs.readFileSync(file).equals(garbage), 'the database file must not be touched');
  assert.deepEqual(fs.readdirSync(dir), ['state.db'], 'no -wal, -shm or -journal next to it');
});

test('unwritable: state.db is a directory -> safe mode naming the path and the error', () => {
  const dir = stateDir();
  fs.mkdirSync(path.join(dir, 'state.db'), { recursive: true });
  const store = openStore(dir);
  assert.equal(store.mode, 'safe');
  assert.match(store.problem!, /state database .*state\.db cannot be written \(SQLITE_CANTOPEN/);
  assert.match(store.problem!, /writable by the daemon's user/);
  assertUsableInMemory(store);
  assert.ok(fs.statSync(path.join(dir, 'state.db')).isDirectory());
});

test('unwritable: state dir cannot be created (a regular file in the way) -> safe mode with errno', () => {
  const blocker = path.join(stateDir());
  fs.writeFileSync(blocker, 'a file, not a folder');
  const dir = path.join(blocker, 'state');
  const store = openStore(dir);
  assert.equal(store.mode, 'safe');
  assert.equal(store.path, path.join(dir, 'state.db'));
  assert.match(store.problem!, /state directory .*state cannot be created \(ENOTDIR/);
  assert.match(store.problem!, /read-only safe mode/);
  assertUsableInMemory(store);
  assert.equal(fs.readFileSync(blocker, 'utf8'), 'a file, not a folder');
});

test('a newer schema: safe mode, desired state still read from it, bytes unchanged', () => {
  const dir = stateDir();
  const a = openStore(dir);
  a.setDesired('web', { state: 'stopped', enabled: true, updatedAt: 5 });
  a.appendEvent(ev('web', 1, admin));
  a.close();
  const file = path.join(dir, 'state.db');
  const db = new Database(file);
  db.pragma('journal_mode = DELETE'); // so that the file alone holds everything
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  const before = fs.readFileSync(file);
  const store = openStore(dir);
  assert.equal(store.mode, 'safe');
  assert.match(store.problem!, /was written by a newer upkeep \(schema version 2; this upkeep understands up to 1\)/);
  assert.match(store.problem!, /desired state read from the file/);
  assert.deepEqual(store.getDesired('web'), { state: 'stopped', enabled: true, updatedAt: 5 });
  assert.deepEqual(store.events()[0]?.cause, admin);
  store.setDesired('web', { state: 'running', enabled: true, updatedAt: 6 });
  store.close();
  assert.ok(fs.readFileSync(file).equals(before), 'the database file must not be touched');
});

test('runtime failure (database locked by another process) switches to safe mode, keeps data', () => {
  const dir = stateDir();
  fs.mkdirSync(dir);
  const file = path.join(dir, 'state.db');
  const reported: string[] = [];
  const store = new SqliteStore(file, { busyTimeoutMs: 50, onSafeMode: (p) => reported.push(p) });
  store.setDesired('web', { state: 'stopped', enabled: true, updatedAt: 1 });
  store.recordInstance({ service: 'db', pid: 9, startTime: 99, bootId: 'b' });
  store.setMeta('boot_id', 'b');
  const before = [store.appendEvent(ev('web', 1)), store.appendEvent(ev('web', 2))];
  store.flush();

  const other = new Database(file);
  other.exec('BEGIN IMMEDIATE'); // holds the write lock: our next write fails with SQLITE_BUSY
  const during = store.appendEvent(ev('web', 3)); // must not throw
  other.exec('ROLLBACK');

  assert.equal(store.mode, 'safe');
  assert.ok(store.problem?.includes(file), store.problem);
  assert.match(store.problem!, /failed while appending an event \(SQLITE_BUSY: database is locked\); switched to read-only safe mode/);
  assert.deepEqual(reported, [store.problem]);
  assert.ok(during.seq! > before[1]!.seq!, 'seq continues in memory');
  assert.deepEqual(store.events(), [...before, during]);
  assert.deepEqual(store.getDesired('web'), { state: 'stopped', enabled: true, updatedAt: 1 });
  assert.deepEqual(store.instances(), [{ service: 'db', pid: 9, startTime: 99, bootId: 'b' }]);
  assert.equal(store.getMeta('boot_id'), 'b');
  store.setDesired('web', { state: 'running', enabled: true, updatedAt: 2 });
  assert.equal(store.getDesired('web')?.state, 'running');
  store.close();

  // Nothing after the switch reached the file, although the lock is gone.
  other.close();
  const reopened = openStore(dir);
  assert.equal(reopened.mode, 'ok');
  assert.deepEqual(strip(reopened.events()), ['web@1', 'web@2']);
  assert.equal(reopened.getDesired('web')?.state, 'stopped');
  reopened.close();
});

test('runtime failure (file overwritten with garbage under it) switches to safe mode, file left alone', () => {
  const dir = stateDir();
  const store = openStore(dir);
  store.appendEvent(ev('web', 1));
  (store as SqliteStore).flush();
  const file = path.join(dir, 'state.db');
  const garbage = Buffer.from('garbage!'.repeat(1000));
  fs.writeFileSync(file, garbage);
  // With the WAL emptied and its index clobbered, SQLite must re-read the (now garbage) header.
  fs.writeFileSync(`${file}-wal`, '');
  fs.writeFileSync(`${file}-shm`, Buffer.alloc(32768, 0xff));
  const e = store.appendEvent(ev('web', 2));
  assert.equal(store.mode, 'safe');
  assert.match(store.problem!, /SQLITE_NOTADB/);
  assert.equal(store.events().at(-1)?.seq, e.seq);
  assertUsableInMemory(store);
  store.close();
  assert.ok(fs.readFileSync(file).equals(garbage), 'the replaced file must not be touched');
});

test('runtime failure (table dropped by another connection) switches to safe mode without throwing', () => {
  const dir = stateDir();
  const store = openStore(dir);
  store.appendEvent(ev('a', 1));
  (store as SqliteStore).flush();
  const other = new Database(path.join(dir, 'state.db'));
  other.exec('DROP TABLE events');
  other.close();
  assert.doesNotThrow(() => store.appendEvent(ev('a', 2)));
  assert.equal(store.mode, 'safe');
  assert.match(store.problem!, /state\.db failed while appending an event \(SQLITE_ERROR/);
  assert.deepEqual(strip(store.events()), ['a@2'], 'the dropped events are gone; the new one is in memory');
  store.close();
});

test('calls after close do not throw', () => {
  const store = openStore(stateDir());
  store.close();
  assert.doesNotThrow(() => store.appendEvent(ev('web', 1)));
  assert.equal(store.mode, 'ok');
});

test('MemoryStore: ok without a problem, safe with one; keeps only the newest events', () => {
  assert.equal(new MemoryStore('/x/state.db').mode, 'ok');
  const safe = new MemoryStore('/x/state.db', 'broken');
  assert.equal(safe.mode, 'safe');
  assert.equal(safe.problem, 'broken');
  assertUsableInMemory(safe);
  const small = new MemoryStore('/x/state.db', undefined, { eventCap: 3 });
  for (let i = 1; i <= 10; i++) small.appendEvent(ev(i % 2 ? 'a' : 'b', i));
  assert.deepEqual(strip(small.events()), ['b@8', 'a@9', 'b@10']);
  assert.deepEqual(strip(small.events({ service: 'a', limit: 5 })), ['a@9']);
  assert.deepEqual(small.events().map((e) => e.seq), [8, 9, 10]);
});

test('10,000 appendEvent calls (timing printed, not asserted)', () => {
  const store = openStore(stateDir());
  const cause: Cause = { kind: 'restart', attempt: 3, delayMs: 400 };
  const started = process.hrtime.bigint();
  for (let i = 0; i < 10_000; i++) store.appendEvent({ ...ev(`svc${i % 300}`, i, cause), detail: { pid: 1000 + i } });
  (store as SqliteStore).flush();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`10,000 appendEvent + commit: ${ms.toFixed(1)} ms (${((ms * 1000) / 10_000).toFixed(1)} µs each)`);
  assert.equal(store.events({ limit: 1 })[0]?.time, 9_999);
  assert.equal(store.events({ service: 'svc0' }).length, 34);
  store.close();
});
