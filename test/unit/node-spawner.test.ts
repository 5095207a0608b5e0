// NodeSpawner with real processes: own process group, spawn errors as data, and the pid shim
// that exports the program's own pid (WATCHDOG_PID) without turning a missing program into exit 127,
// through upkeep-exec when it is built and through the /bin/sh fallback; fds at 3, 4, ….
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeSpawner } from '../../src/process/node-spawner.js';
import { resolveProgram } from '../../src/process/resolve-program.js';
import type { SpawnOutcome, SpawnRequest } from '../../src/process/spawner.js';

function run(request: SpawnRequest, spawner = new NodeSpawner()): Promise<{ outcome: SpawnOutcome; out: string; code: number | null }> {
  return new Promise((resolve) => {
    let out = '';
    let outcome: SpawnOutcome;
    spawner.spawn(request, {
      done: (o) => {
        outcome = o;
        if (!o.ok) resolve({ outcome: o, out, code: null });
      },
      onOutput: (_stream, chunk) => (out += chunk.toString()),
      onExit: (code) => setTimeout(() => resolve({ outcome, out, code }), 50),
    });
  });
}

const base = { directory: '/tmp', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } };

test('pidEnv: the program sees its own pid, and leads its own process group', async () => {
  const r = await run({ ...base, command: ['sh', '-c', 'echo "$WATCHDOG_PID $$ $(ps -o pgid= -p $$)"'], pidEnv: ['WATCHDOG_PID'] });
  assert.ok(r.outcome.ok);
  const [exported, own, pgid] = r.out.trim().split(/\s+/).map(Number);
  assert.equal(exported, own);
  assert.equal(own, r.outcome.ok ? r.outcome.pid : -1);
  assert.equal(pgid, own);
});

test('pidEnv keeps a missing program a spawn error (not exit 127)', async () => {
  const r = await run({ ...base, command: ['no-such-program-xyz'], pidEnv: ['WATCHDOG_PID'] });
  assert.deepEqual(r.outcome, { ok: false, errno: 'ENOENT', message: 'program no-such-program-xyz not found' });
});

test('pidEnv without upkeep-exec: the /bin/sh fallback exports the pid, a missing program stays a spawn error', async () => {
  const fallback = new NodeSpawner({ execShim: null });
  const r = await run({ ...base, command: ['sh', '-c', 'echo "$LISTEN_PID $$"'], pidEnv: ['LISTEN_PID'] }, fallback);
  const [exported, own] = r.out.trim().split(/\s+/).map(Number);
  assert.equal(exported, own);
  assert.equal(own, r.outcome.ok ? r.outcome.pid : -1);
  const missing = await run({ ...base, command: ['no-such-program-xyz'], pidEnv: ['LISTEN_PID'] }, fallback);
  assert.deepEqual(missing.outcome, { ok: false, errno: 'ENOENT', message: 'program no-such-program-xyz not found' });
});

test('fds land at 3, 4, … in the program, with or without the shim', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-fds-'));
  for (const name of ['first', 'second']) fs.writeFileSync(path.join(dir, name), `${name}\n`);
  // Fresh descriptions per run: the child reading to the end moves the shared offset.
  const open = () => ['first', 'second'].map((name) => fs.openSync(path.join(dir, name), 'r'));
  const opened: number[] = [];
  try {
    const command = ['sh', '-c', 'cat <&3; cat <&4'];
    const plainFds = open();
    opened.push(...plainFds);
    const plain = await run({ ...base, command, fds: plainFds });
    assert.equal(plain.out, 'first\nsecond\n');
    const shimFds = open();
    opened.push(...shimFds);
    const viaShim = await run({ ...base, command, fds: shimFds, umask: 0o22 });
    assert.equal(viaShim.out, 'first\nsecond\n');
  } finally {
    for (const fd of opened) fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing working directory is named as such, also when the shim runs (without a uid)', async () => {
  const r = await run({ ...base, directory: '/no/such/dir', command: ['true'], nice: 1 });
  assert.deepEqual(r.outcome, { ok: false, errno: 'ENOENT', message: 'directory /no/such/dir cannot be used (ENOENT)' });
});

test('resolveProgram: PATH search, relative paths, permission denied', () => {
  const sh = resolveProgram('sh', '/nonexistent:/bin:/usr/bin', '/');
  assert.ok(sh.ok);
  assert.equal(resolveProgram('./definitely-missing', undefined, '/tmp').ok, false);
  const dir = resolveProgram('/tmp', undefined, '/');
  assert.deepEqual(dir.ok ? 'ok' : dir.errno, 'EACCES');
});
