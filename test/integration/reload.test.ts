// reload applies only the difference: new start, removed stop (cause config), changed restart,
// unchanged untouched, and a broken file keeps its service's last good definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Project, waitFor } from './harness.js';

test('reload starts new, stops removed, restarts changed and leaves the rest alone', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('same.toml', 'command = ["sleep", "1000"]\n');
  p.write('changing.toml', 'command = ["sleep", "1000"]\n');
  p.write('leaving.toml', 'command = ["sleep", "1000"]\n');
  p.write('breaking.toml', 'command = ["sleep", "1000"]\n');
  await p.startDaemon();
  const same = await p.running('same');
  const changing = await p.running('changing');
  await p.running('leaving');
  const breaking = await p.running('breaking');

  p.write('changing.toml', 'command = ["sleep", "2000"]\n');
  p.remove('leaving.toml');
  p.write('new.toml', 'command = ["sleep", "1000"]\n');
  p.write('breaking.toml', 'command = ["sleep", "1000"]\nrestart_delay = "5s"\n');
  const r = await p.cli('reload', '--json');
  assert.equal(r.code, 1, 'a file with errors makes reload exit 1');
  const outcome = JSON.parse(r.stdout);
  assert.deepEqual(outcome.added, ['new']);
  assert.deepEqual(outcome.removed, ['leaving']);
  assert.deepEqual(outcome.changed, ['changing']);
  assert.deepEqual([...outcome.unchanged].sort(), ['breaking', 'same']);
  assert.match(outcome.errors[0].message, /breaking\.toml:2: unknown key "restart_delay"/);

  await p.running('new');
  const changed = await p.running('changing');
  assert.notEqual(changed.pid, changing.pid, 'changed service restarted');
  assert.equal((await p.service('same')).pid, same.pid, 'unchanged service untouched');
  assert.equal((await p.service('breaking')).pid, breaking.pid, 'broken file: last good definition kept');
  await waitFor(async () => !(await p.status()).some((s) => s.name === 'leaving'), 5000, () => 'removed service still listed');
  const events = await p.events('leaving');
  assert.equal(events.at(-1)?.to, 'stopped');
  assert.equal(events.at(-1)?.cause.kind, 'config');
  assert.equal(events.at(-1)?.cause.change, 'removed');
  const restarted = (await p.events('changing')).find((e) => e.from === 'running');
  assert.equal(restarted?.cause.kind, 'config');
});
