/**
 * Dependencies, groups and start storms through the real daemon: `after` and `requires` order,
 * a required service's stop taking its dependents down (cause `dependency`) and back up, cycles
 * as errors that name the loop, `@group` commands, `daemon --only GROUP`, and slow starts that
 * hold a few start slots without stalling everyone else.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FIXTURES, Project, waitFor, type EventEntry } from './harness.js';

const projects: Project[] = [];
after(async () => {
  for (const p of projects) await p.cleanup();
});

function project(): Project {
  const p = new Project();
  projects.push(p);
  return p;
}

const SLEEP = 'command = ["/bin/sleep", "1000"]\n';
const firstTime = (events: EventEntry[], service: string, to: string) =>
  events.find((e) => e.service === service && e.to === to)?.time ?? Number.POSITIVE_INFINITY;

describe('dependencies', () => {
  test('after and requires order the starts; a required service that stops takes its dependents with it', async () => {
    const p = project();
    p.write('db.toml', `command = ["${join(FIXTURES, 'notify-ready.sh')}"]\nready = "notify"\nenvironment = { READY_AFTER = "0.5" }\n`);
    p.write('api.toml', `${SLEEP}requires = ["db"]\n`);
    p.write('web.toml', `${SLEEP}after = ["api"]\n`);
    await p.startDaemon();
    for (const n of ['db', 'api', 'web']) await p.running(n);
    const events = await p.events();
    assert.ok(firstTime(events, 'db', 'running') <= firstTime(events, 'api', 'starting'), 'api starts after db is ready');
    assert.ok(firstTime(events, 'api', 'running') <= firstTime(events, 'web', 'starting'), 'web starts after api is ready');

    assert.equal((await p.cli('stop', 'db')).code, 0);
    await waitFor(async () => (await p.service('api')).state === 'stopped', 10_000, () => p.daemonOutput);
    const api = await p.service('api');
    assert.equal(api.desired, 'running', 'a dependency stop does not change what the admin wants');
    assert.deepEqual(api.cause, { kind: 'dependency', service: 'db' });
    assert.deepEqual((api as unknown as { waitingFor: string[] }).waitingFor, ['db']);
    assert.equal((await p.service('web')).state, 'running', '`after` alone does not stop a service');

    assert.equal((await p.cli('start', 'db')).code, 0);
    await p.running('api');
  });

  test('a cycle is an error that names it; the services of the cycle are not started, the rest is', async () => {
    const p = project();
    p.write('a.toml', `${SLEEP}after = ["b"]\n`);
    p.write('b.toml', `${SLEEP}requires = ["c"]\n`);
    p.write('c.toml', `${SLEEP}after = ["a"]\n`);
    p.write('ok.toml', SLEEP);
    const check = await p.cli('check', p.config);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /a\.toml: after: dependency cycle a -> b -> c -> a; remove one of these dependencies/);
    assert.match(check.stderr, /b\.toml: requires: dependency cycle a -> b -> c -> a/);
    await p.startDaemon();
    await p.running('ok');
    assert.deepEqual((await p.status()).map((s) => s.name), ['ok']);
    assert.match(p.daemonOutput, /dependency cycle a -> b -> c -> a/);
  });
});

describe('groups', () => {
  test('start, stop and restart @GROUP; daemon --only GROUP brings up that group alone', async () => {
    const p = project();
    p.write('sso.toml', `${SLEEP}groups = ["core"]\n`);
    p.write('ldap.toml', `${SLEEP}groups = ["core", "auth"]\n`);
    p.write('shop.toml', `${SLEEP}after = ["sso"]\n`);
    p.write('blog.toml', SLEEP);
    await p.startDaemon(['--only', '@core']);
    await p.running('sso');
    await p.running('ldap');
    for (const n of ['shop', 'blog']) {
      const s = await p.service(n);
      assert.equal(s.state, 'stopped');
      assert.equal((s as unknown as { held: boolean }).held, true);
    }
    assert.match((await p.cli('status')).stdout, /blog\s+held/);
    assert.equal((await p.cli('start', 'blog', 'shop')).code, 0);
    await p.running('blog');
    await p.running('shop');

    const stop = await p.cli('stop', '@core');
    assert.equal(stop.code, 0);
    assert.equal((await p.service('sso')).state, 'stopped');
    assert.equal((await p.service('ldap')).state, 'stopped');
    assert.equal((await p.service('blog')).state, 'running');
    const before = (await p.service('blog')).pid;
    assert.equal((await p.cli('restart', '@core')).code, 0);
    await p.running('sso');
    assert.equal((await p.service('blog')).pid, before);
    const unknown = await p.cli('start', '@nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no service is in group "nope"/);
  });
});

describe('start storms', () => {
  test('slow starts hold a few slots; everything else starts', async () => {
    const p = project();
    const daemonConfig = join(p.dir, 'daemon.toml');
    writeFileSync(daemonConfig, 'max_concurrent_starts = 3\n');
    // Two services that never become ready (notify, and nothing notifies) hold two slots.
    for (const n of ['slow1', 'slow2']) p.write(`${n}.toml`, `${SLEEP}ready = "notify"\nstart_timeout = "5m"\npriority = 10\n`);
    for (let i = 0; i < 30; i++) p.write(`fast${String(i).padStart(2, '0')}.toml`, SLEEP);
    await p.startDaemon(['--daemon-config', daemonConfig]);
    await waitFor(async () => (await p.status()).filter((s) => s.state === 'running').length === 30, 30_000, () => p.daemonOutput);
    for (const n of ['slow1', 'slow2']) assert.equal((await p.service(n)).state, 'starting');
    const info = JSON.parse((await p.cli('status', '--json')).stdout) as unknown[];
    assert.equal(info.length, 32);
  });

  test('when slow starts hold every slot, the rest is queued (status shows where) until start timeouts free the slots', async () => {
    const p = project();
    const daemonConfig = join(p.dir, 'daemon.toml');
    writeFileSync(daemonConfig, 'max_concurrent_starts = 2\n');
    for (const n of ['slow1', 'slow2']) p.write(`${n}.toml`, `${SLEEP}ready = "notify"\nstart_timeout = "3s"\npriority = 10\n`);
    for (let i = 0; i < 5; i++) p.write(`fast${i}.toml`, SLEEP);
    await p.startDaemon(['--daemon-config', daemonConfig]);
    const queued = (await p.status()).filter((s) => (s as unknown as { queued: number | null }).queued !== null);
    assert.deepEqual(queued.map((s) => (s as unknown as { queued: number }).queued).sort(), [1, 2, 3, 4, 5]);
    assert.match((await p.cli('status')).stdout, /fast\d\s+queued #1/);
    await waitFor(async () => (await p.status()).filter((s) => s.state === 'running').length === 5, 20_000, () => p.daemonOutput);
    const slow = await p.events('slow1');
    assert.ok(slow.some((e) => e.cause.kind === 'start-timeout'), 'the slow start timed out, which freed its slot');
  });
});
