// A corrupt state database puts the daemon in read-only safe mode: it says so, keeps supervising
// from the service files, and never deletes or rewrites the database.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from './harness.js';

test('a corrupt store: safe mode, services run, the file is untouched', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "1000"]\n');
  mkdirSync(p.state, { recursive: true });
  const garbage = Buffer.from('this is not a database, but it is somebody\'s data\n'.repeat(200));
  const db = join(p.state, 'state.db');
  writeFileSync(db, garbage);
  await p.startDaemon();
  await p.running('svc');
  const r = await p.cli('status');
  assert.equal(r.code, 0);
  assert.match(r.stderr, /safe mode/);
  assert.match(r.stderr, /state\.db/);
  assert.match(p.daemonOutput, /safe mode/);
  // Commands still work (in memory), and the file is byte-for-byte what it was.
  assert.equal((await p.cli('stop', 'svc')).code, 0);
  assert.equal((await p.cli('start', 'svc')).code, 0);
  await p.running('svc');
  assert.ok(readFileSync(db).equals(garbage), 'the database file must not be touched');
});
