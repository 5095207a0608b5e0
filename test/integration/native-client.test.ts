// `upkeep status` through the native client (bin/upkeep -> native/client) against a real daemon
// with real services: the same bytes as the Node CLI (bin/upkeep.js) for --json, the same table
// (the SINCE column aside) for text, the same socket, and for everything else (other commands,
// bad usage, errors, no daemon) the Node CLI's own output and exit code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Project } from './harness.js';
import { maskSince, nativeBuilt, nodeCli, upkeep, type Run } from './native-run.js';

/**
 * Both front ends, in turn, with the same arguments. `fastPath`: bin/upkeep runs with no `node` on
 * its PATH, so it can only succeed by answering itself (a fallback would fail to exec Node).
 */
async function both(args: string[], env: NodeJS.ProcessEnv = process.env, fastPath = false): Promise<{ fast: Run; node: Run }> {
  const fast = await upkeep(args, { env: fastPath ? { ...env, PATH: '/nonexistent' } : env });
  const node = await nodeCli(args, { env });
  return { fast, node };
}

const viaNative = (args: string[], env?: NodeJS.ProcessEnv) => both(args, env, true);

function assertSame(r: { fast: Run; node: Run }, what: string): void {
  assert.equal(r.fast.code, r.node.code, `${what}: exit code`);
  assert.equal(r.fast.stderr, r.node.stderr, `${what}: stderr`);
  assert.ok(r.fast.raw.equals(r.node.raw), `${what}: stdout\n--- native:\n${r.fast.stdout}\n--- node:\n${r.node.stdout}`);
}

function assertSameTable(r: { fast: Run; node: Run }, what: string): void {
  assert.equal(r.fast.code, 0, `${what}: ${r.fast.stderr}`);
  assert.equal(r.node.code, 0, `${what}: ${r.node.stderr}`);
  assert.equal(r.fast.stderr, r.node.stderr, `${what}: stderr`);
  assert.match(r.fast.stdout, /\n$/);
  assert.deepEqual(maskSince(r.fast.stdout), maskSince(r.node.stdout), what);
}

test('status through the native client prints what the Node CLI prints', async (t) => {
  if (!nativeBuilt(t)) return;
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('web.toml', 'command = ["sleep", "100000"]\ngroups = ["core"]\n');
  p.write('db.toml', 'command = ["sleep", "100000"]\ngroups = ["core", "data"]\n');
  p.write('worker.toml', 'command = ["sleep", "100000"]\nafter = ["db"]\n');
  p.write('idle.toml', 'command = ["sleep", "100000"]\nrestart = "never"\n');
  await p.startDaemon();
  for (const name of ['web', 'db', 'worker', 'idle']) await p.running(name);
  assert.equal((await p.cli('stop', 'idle')).code, 0); // one stopped row, with a cause in DETAIL
  const S = ['--socket', p.socket];

  await t.test('--json: byte for byte', async () => {
    const r = await viaNative(['status', '--json', ...S]);
    assert.equal(r.fast.code, 0, r.fast.stderr);
    assertSame(r, 'status --json');
    assert.deepEqual((JSON.parse(r.fast.stdout) as { name: string }[]).map((s) => s.name).sort(), ['db', 'idle', 'web', 'worker']);
  });

  await t.test('names and @group filters', async () => {
    assertSame(await viaNative(['status', 'worker', 'web', '--json', ...S]), 'status worker web --json');
    assertSame(await viaNative(['status', '@core', '--json', ...S]), 'status @core --json');
    assertSame(await viaNative(['status', '--json', '@data', 'web', ...S]), 'status --json @data web');
    const group = await viaNative(['status', '@core', ...S]);
    assertSameTable(group, 'status @core');
    assert.deepEqual(maskSince(group.fast.stdout).map((row) => row[0]), ['NAME', 'db', 'web']);
  });

  await t.test('text: the same header and rows', async () => {
    const r = await viaNative(['status', ...S]);
    assertSameTable(r, 'status');
    const rows = maskSince(r.fast.stdout);
    assert.deepEqual(rows[0], ['NAME', 'STATE', 'PID', 'RESTARTS', 'SINCE', 'DETAIL']);
    assert.equal(rows.length, 5);
    assert.match(r.fast.stdout, /^idle +stopped +- .*stop by /m);
  });

  await t.test('--socket before the command, --socket=PATH, UPKEEP_SOCKET', async () => {
    assertSame(await viaNative(['--socket', p.socket, 'status', '--json']), '--socket P status --json');
    assertSame(await viaNative([`--socket=${p.socket}`, 'status', 'db', '--json']), '--socket=P status db --json');
    assertSame(await viaNative(['status', '--json', `--socket=${p.socket}`]), 'status --json --socket=P');
    const env = { ...process.env, UPKEEP_SOCKET: p.socket };
    const r = await viaNative(['status', '--json'], env);
    assert.equal(r.fast.code, 0, r.fast.stderr);
    assertSame(r, 'UPKEEP_SOCKET=P status --json');
    // --socket wins over UPKEEP_SOCKET, as in the Node CLI.
    const nowhere = { ...process.env, UPKEEP_SOCKET: join(p.dir, 'nowhere.sock') };
    assertSame(await viaNative(['status', '--json', ...S], nowhere), '--socket over UPKEEP_SOCKET');
  });

  await t.test('everything else is the Node CLI: other commands, bad usage, help', async () => {
    const unknown = await both(['bogus', ...S]);
    assert.equal(unknown.fast.code, 2);
    assertSame(unknown, 'unknown command');
    assertSame(await both([]), 'no arguments');
    assertSame(await both(['status', '-h']), 'status -h');
    assertSame(await both(['status', '--bogus', ...S]), 'status --bogus');
    assertSame(await both(['status', '--socket']), 'status --socket (no value)');
    assertSame(await both(['status', '--socket', '--json']), 'status --socket --json (ambiguous)');
    // start of a running service changes nothing: both print the same status of it.
    const start = await both(['start', 'web', '--json', ...S]);
    assert.equal(start.fast.code, 0, start.fast.stderr);
    assertSame(start, 'start web --json');
    const why = await both(['why', 'idle', '--json', ...S]);
    assert.equal(why.fast.code, 0, why.fast.stderr);
    assertSame(why, 'why idle --json');
  });

  await t.test('errors come from the Node CLI: unknown names (quote, backslash, unicode), no daemon', async () => {
    for (const name of ['nope', 'we"b', 'back\\slash', 'ünïcødé-€-😀', 'tab\there', '@nogroup']) {
      for (const json of [[], ['--json']]) {
        const r = await both(['status', name, ...json, ...S]);
        assert.equal(r.fast.code, 1, `${name}: ${r.fast.stderr}`);
        assertSame(r, `status ${name} ${json.join('')}`);
        if (json.length > 0) {
          const shown = JSON.parse(r.fast.stdout) as { code: string; message: string };
          assert.equal(shown.code, name.startsWith('@') ? 'unknown-group' : 'unknown-service');
          if (!name.startsWith('@')) assert.equal(shown.message, `no service named "${name}"`);
        }
      }
    }
    const none = join(p.dir, 'no-daemon.sock');
    const r = await both(['status', '--socket', none]);
    assert.equal(r.fast.code, 1);
    assert.match(r.fast.stderr, /no upkeep daemon is listening on .*no-daemon\.sock/);
    assertSame(r, 'no daemon');
    assertSame(await both(['status', '--json', '--socket', none]), 'no daemon --json');
  });
});

test('safe mode: the warning goes to stderr, as the Node CLI prints it', async (t) => {
  if (!nativeBuilt(t)) return;
  const p = new Project();
  t.after(() => p.cleanup());
  p.write('svc.toml', 'command = ["sleep", "100000"]\n');
  mkdirSync(p.state, { recursive: true });
  writeFileSync(join(p.state, 'state.db'), 'not a database\n'.repeat(100));
  await p.startDaemon();
  await p.running('svc');
  const r = await viaNative(['status', '--socket', p.socket]);
  assertSameTable(r, 'status in safe mode');
  assert.match(r.fast.stderr, /^WARNING: .*state\.db.*\n$/);
  const j = await viaNative(['status', '--json', '--socket', p.socket]);
  assertSame(j, 'status --json in safe mode');
});

test('an empty config folder: the "no services in DIR" line', async (t) => {
  if (!nativeBuilt(t)) return;
  const p = new Project();
  t.after(() => p.cleanup());
  await p.startDaemon();
  const r = await viaNative(['status', '--socket', p.socket]);
  assert.equal(r.fast.stdout, `no services in ${p.config}\n`);
  assertSame(r, 'status of nothing');
  assertSame(await viaNative(['status', '--json', '--socket', p.socket]), 'status --json of nothing');
});
