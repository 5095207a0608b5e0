// Service output lands in timestamped per-service logs that rotate within max_size × keep,
// readable with `upkeep logs`, also when the service writes a lot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, Project, waitFor } from './harness.js';

test('a service writing a lot keeps its logs within max_size × keep', async (t) => {
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('chatty.toml', `command = ["${FIXTURES}/chatty.sh"]\n[log]\nmax_size = "64KiB"\nkeep = 3\n`);
  await p.startDaemon();
  await p.running('chatty');
  const logDir = join(p.state, 'logs');
  const total = () =>
    readdirSync(logDir)
      .filter((f) => f.startsWith('chatty.log'))
      .reduce((sum, f) => sum + statSync(join(logDir, f)).size, 0);
  // 20000 lines of ~90 bytes: done when the last line is in the log.
  await waitFor(async () => {
    const r = await p.cli('logs', 'chatty', '-n', '1');
    return r.stdout.includes('line 19999');
  }, 20_000, () => 'output not all logged');
  const files = readdirSync(logDir).filter((f) => f.startsWith('chatty.log'));
  assert.equal(files.length, 3, files.join(','));
  assert.ok(total() <= 64 * 1024 * 3, `total ${total()} over the limit`);
  const r = await p.cli('logs', 'chatty', '-n', '5');
  assert.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[0] as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z out line \d+/);
});
