// `upkeep check DIR` prints every error as file:line with the key, and exits 1; 0 when all is well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Project } from './harness.js';

test('check reports every malformed file with file:line and key, exit 1', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('good.toml', 'command = ["sleep", "1"]\n');
  p.write('typo.toml', 'command = ["sleep", "1"]\nrestart_delay = "5s"\n');
  p.write('types.toml', 'command = ["sleep", "1"]\nstop_timeout = 10\n');
  p.write('dur.toml', 'command = ["sleep", "1"]\n\nstop_timeout = "10 sec"\n');
  p.write('empty.toml', 'command = []\n');
  p.write('syntax.toml', 'command = ["sleep", "1"\n');
  const r = await p.cli('check', p.config);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /typo\.toml:2: unknown key "restart_delay"; did you mean "backoff"\?/);
  assert.match(r.stderr, /types\.toml:2: stop_timeout/);
  assert.match(r.stderr, /dur\.toml:3: stop_timeout: bad duration "10 sec"/);
  assert.match(r.stderr, /empty\.toml:1: command/);
  assert.match(r.stderr, /syntax\.toml:\d+:/);
  assert.match(r.stdout, /1 service OK/);
  const j = await p.cli('check', p.config, '--json');
  const out = JSON.parse(j.stdout);
  assert.deepEqual(out.services, ['good']);
  assert.equal(out.errors.length, 5);
  assert.ok(out.errors.every((e: { file: string; line: number }) => e.file && e.line > 0));
});

test('check exits 0 on a valid folder', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('a.toml', 'command = "sleep 1"\n');
  const r = await p.cli('check', p.config);
  assert.equal(r.code, 0, r.stderr);
});
