// NodeSpawner with real processes: own process group, spawn errors as data, and the pid shim
// that exports the program's own pid (WATCHDOG_PID) without turning a missing program into exit 127.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeSpawner } from '../../src/process/node-spawner.js';
import { resolveProgram } from '../../src/process/resolve-program.js';
import type { SpawnOutcome, SpawnRequest } from '../../src/process/spawner.js';

function run(request: SpawnRequest): Promise<{ outcome: SpawnOutcome; out: string; code: number | null }> {
  return new Promise((resolve) => {
    let out = '';
    let outcome: SpawnOutcome;
    new NodeSpawner().spawn(request, {
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

test('resolveProgram: PATH search, relative paths, permission denied', () => {
  const sh = resolveProgram('sh', '/nonexistent:/bin:/usr/bin', '/');
  assert.ok(sh.ok);
  assert.equal(resolveProgram('./definitely-missing', undefined, '/tmp').ok, false);
  const dir = resolveProgram('/tmp', undefined, '/');
  assert.deepEqual(dir.ok ? 'ok' : dir.errno, 'EACCES');
});
