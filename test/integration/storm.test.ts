/**
 * The start storm of guarantee 6 at full size: 1000 services, 900 of them in 300 tenants (real
 * users, 3 services each) and 100 of the daemon's own, started by one daemon start as after a
 * reboot. They must all come up, tenants taking turns (every tenant's first service starts
 * before any tenant's third), and then stay up through a 2-minute soak in which nothing stops
 * or restarts. No timing is asserted: only order and outcome.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Project, sleep, waitFor, type EventEntry } from './harness.js';
import { removeUser, suffix } from './users.js';

const TENANTS = 300;
const PER_TENANT = 3;
const OWN = 100;
const SOAK_MS = 120_000;

const tag = suffix();
const project = new Project();
const users: string[] = [];

before(() => {
  chmodSync(project.dir, 0o711);
  const homes = join(project.dir, 'home');
  mkdirSync(homes, { mode: 0o755 });
  // newusers makes all the users (and their groups) in one go: 300 useradd calls take longer.
  const lines: string[] = [];
  for (let t = 0; t < TENANTS; t++) {
    const name = `upk-s${tag}-${String(t).padStart(3, '0')}`;
    users.push(name);
    lines.push(`${name}:!::::${join(homes, name)}:/bin/sh`);
  }
  const made = spawnSync('newusers', [], { input: `${lines.join('\n')}\n`, encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  for (const name of users) {
    const [uid, gid] = ['-u', '-g'].map((f) => Number(spawnSync('id', [f, name], { encoding: 'utf8' }).stdout.trim())) as [number, number];
    const home = join(homes, name);
    const services = join(home, '.config', 'upkeep', 'services');
    mkdirSync(services, { recursive: true, mode: 0o755 });
    for (const d of [home, join(home, '.config'), join(home, '.config', 'upkeep'), services]) chownSync(d, uid, gid);
    for (let i = 0; i < PER_TENANT; i++) {
      const file = join(services, `s${i}.toml`);
      writeFileSync(file, 'command = ["/bin/sleep", "100000"]\n');
      chownSync(file, uid, gid);
    }
  }
  for (let i = 0; i < OWN; i++) project.write(`own${String(i).padStart(3, '0')}.toml`, 'command = ["/bin/sleep", "100000"]\n');
  writeFileSync(join(project.dir, 'daemon.toml'), `tenants = "${homes}/*/.config/upkeep/services"\n`);
});

after(async () => {
  await project.cleanup();
  for (const name of users) removeUser(name);
});

test('1000 services in 300 tenants start after a daemon start, fairly, and stay up through a 2-minute soak', { timeout: 600_000 }, async () => {
  const total = TENANTS * PER_TENANT + OWN;
  await project.startDaemon(['--daemon-config', join(project.dir, 'daemon.toml')], process.env, 60_000);
  await waitFor(
    async () => (await project.status()).filter((s) => s.state === 'running').length === total,
    300_000,
    () => `not all ${total} running:\n${project.daemonOutput.slice(-2000)}`,
  );

  // Fair turns: in the order starts happened, every tenant's first service comes before any
  // tenant's third.
  const events = await project.events();
  const starts = events.filter((e) => e.to === 'starting');
  const firstOfEach = new Map<string, number>();
  let firstThird = Number.POSITIVE_INFINITY;
  starts.forEach((e, i) => {
    const tenant = e.service.split('/')[0]!;
    if (e.service.includes('/') && !firstOfEach.has(tenant)) firstOfEach.set(tenant, i);
    if (e.service.endsWith('/s2') && firstThird === Number.POSITIVE_INFINITY) firstThird = i;
  });
  assert.equal(firstOfEach.size, TENANTS);
  assert.ok(Math.max(...firstOfEach.values()) < firstThird, 'every tenant had a turn before anyone got a third');

  // The soak: nothing stops, nothing restarts.
  const lastSeq = Math.max(...events.map((e) => (e as EventEntry & { seq: number }).seq));
  await sleep(SOAK_MS);
  const later = (await project.events()).filter((e) => (e as EventEntry & { seq: number }).seq > lastSeq);
  assert.deepEqual(later.map((e) => `${e.service}: ${e.from} -> ${e.to} (${e.cause.kind})`), []);
  const status = await project.status();
  assert.equal(status.filter((s) => s.state === 'running' && s.restarts === 0).length, total);
});
