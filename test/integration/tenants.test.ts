/**
 * Tenants (guarantee 8: tenants stay in their lane), with real users made by useradd: each
 * tenant's services run as the tenant, each tenant has a socket of their own on which only
 * their services exist, and nothing a tenant writes (files, links, environment) makes the
 * daemon act as root for them. Template instances are durable across a daemon restart.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Project, waitFor, type EventEntry, type StatusEntry } from './harness.js';
import { makeGroup, makeUser, removeGroup, removeUser, suffix, type TestUser } from './users.js';

const tag = suffix();
const project = new Project();
let alice: TestUser;
let bob: TestUser;
let carol: TestUser | undefined;
let extraGroup: { name: string; gid: number };
let aliceSocket: string;
let bobSocket: string;
let rootOnly: string;

function writeAs(user: TestUser, name: string, text: string): void {
  const file = join(user.services, name);
  writeFileSync(file, text);
  chownSync(file, user.uid, user.gid);
}

const SHOW_IDENTITY =
  'command = ["/bin/sh", "-c", "echo uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME user=$USER logname=$LOGNAME secret=${ROOT_SECRET:-none}; exec sleep 1000"]\n';

before(async () => {
  chmodSync(project.dir, 0o711);
  const homes = join(project.dir, 'home');
  mkdirSync(homes, { mode: 0o755 });
  extraGroup = { name: `upk-g-${tag}`, gid: makeGroup(`upk-g-${tag}`) };
  alice = makeUser(`upk-a-${tag}`, homes, [extraGroup.name]);
  bob = makeUser(`upk-b-${tag}`, homes);
  rootOnly = join(project.dir, 'root-only');
  mkdirSync(rootOnly, { mode: 0o700 });
  writeFileSync(join(rootOnly, 'secret.toml'), 'command = ["/bin/cat", "/etc/shadow"]\n');

  project.write('web.toml', 'command = ["/bin/sleep", "1000"]\n');
  project.write('as-alice.toml', `${SHOW_IDENTITY}user = "${alice.name}"\n`);
  for (const user of [alice, bob]) writeAs(user, 'app.toml', SHOW_IDENTITY);
  writeAs(alice, 'worker@.toml', 'command = ["/bin/sh", "-c", "echo instance=%i user=%u home=%h; exec sleep 1000"]\n');
  writeAs(alice, 'evil.toml', 'command = ["/bin/sh", "-c", "id"]\nuser = "root"\n');
  writeAs(alice, 'notify-hijack.toml', 'command = ["/bin/sleep", "1000"]\nenvironment = { NOTIFY_SOCKET = "/run/systemd/notify" }\n');
  symlinkSync(join(rootOnly, 'secret.toml'), join(alice.services, 'stolen.toml'));
  // A socket path through a link the tenant planted, pointing into a folder only root can write.
  mkdirSync(join(alice.home, 'run-real'));
  chownSync(join(alice.home, 'run-real'), alice.uid, alice.gid);
  symlinkSync(rootOnly, join(alice.home, 'run'));
  writeAs(alice, 'sock.toml', `command = ["/bin/sleep", "1000"]\n[socket]\nlisten = ["${join(alice.home, 'run', 'app.sock')}"]\nactivate = "eager"\n`);

  const daemonConfig = join(project.dir, 'daemon.toml');
  writeFileSync(daemonConfig, `tenants = "${homes}/*/.config/upkeep/services"\nmax_concurrent_starts = 4\n`);
  await project.startDaemon(['--daemon-config', daemonConfig], { ...process.env, ROOT_SECRET: 'hunter2' });
  aliceSocket = join(project.dir, 'tenants', `${alice.name}.sock`);
  bobSocket = join(project.dir, 'tenants', `${bob.name}.sock`);
});

after(async () => {
  await project.cleanup();
  for (const u of [alice, bob, carol]) if (u !== undefined) removeUser(u.name);
  removeGroup(extraGroup.name);
});

async function asTenant(user: TestUser, ...args: string[]) {
  return project.cliAs({ uid: user.uid, gid: user.gid, socket: user === alice ? aliceSocket : bobSocket }, ...args);
}

async function tenantStatus(user: TestUser): Promise<StatusEntry[]> {
  const r = await asTenant(user, 'status', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusEntry[];
}

describe('tenants', () => {
  test("a tenant's services run as the tenant: uid, gid, groups, HOME/USER/LOGNAME, none of root's environment", async () => {
    const s = await project.running(`${alice.name}/app`);
    await waitFor(async () => (await project.cli('logs', `${alice.name}/app`)).stdout.includes('uid='), 5000, () => 'no output');
    const out = (await project.cli('logs', `${alice.name}/app`)).stdout;
    assert.match(out, new RegExp(`uid=${alice.uid} gid=${alice.gid} groups=${alice.gid} ${extraGroup.gid} home=${alice.home} user=${alice.name} logname=${alice.name} secret=none`));
    const procStatus = readFileSync(`/proc/${s.pid}/status`, 'utf8');
    assert.match(procStatus, new RegExp(`^Uid:\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}$`, 'm'));
    // Root's own service still gets the daemon's environment.
    await project.running('web');
  });

  test("root's own file may name a user: the service runs as that user", async () => {
    const s = await project.running('as-alice');
    const procStatus = readFileSync(`/proc/${s.pid}/status`, 'utf8');
    assert.match(procStatus, new RegExp(`^Uid:\\s+${alice.uid}\\s`, 'm'));
    await waitFor(async () => (await project.cli('logs', 'as-alice')).stdout.includes('uid='), 5000, () => 'no output');
    assert.match((await project.cli('logs', 'as-alice')).stdout, new RegExp(`groups=${alice.gid} ${extraGroup.gid} home=${alice.home}`));
  });

  test("without --socket a tenant's CLI finds the tenant's own socket", async () => {
    const env = { PATH: process.env.PATH, UPKEEP_TENANT_DIR: join(project.dir, 'tenants') };
    const r = await project.cliAs({ uid: bob.uid, gid: bob.gid, socket: null, env }, 'status', '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as StatusEntry[]).map((e) => e.name), ['app']);
  });

  test('each tenant has a socket of their own, mode 0600, owned by them', () => {
    for (const [user, path] of [[alice, aliceSocket], [bob, bobSocket]] as const) {
      const st = statSync(path);
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, user.uid);
    }
  });

  test('root sees every service, tenants under TENANT/NAME', async () => {
    const names = (await project.status()).map((s) => s.name);
    for (const n of ['web', `${alice.name}/app`, `${bob.name}/app`]) assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
  });

  test('a tenant sees and controls only their own services, with every command', async () => {
    assert.deepEqual((await tenantStatus(alice)).map((s) => s.name).sort(), ['app', 'sock']);
    assert.deepEqual((await tenantStatus(bob)).map((s) => s.name).sort(), ['app']);
    for (const target of ['web', `${bob.name}/app`, `../${bob.name}/app`, `/app`]) {
      for (const cmd of [['status'], ['stop'], ['start'], ['restart'], ['enable'], ['disable'], ['why'], ['logs'], ['events']]) {
        const r = await asTenant(alice, ...cmd, target);
        assert.equal(r.code, 1, `${cmd[0]} ${target} as a tenant must fail: ${r.stdout}`);
        assert.match(r.stderr, /no service named/);
      }
    }
    const groups = await asTenant(alice, 'stop', '@core');
    assert.equal(groups.code, 1);
    // Bob's service was never touched.
    const bobApp = await project.service(`${bob.name}/app`);
    assert.equal(bobApp.state, 'running');
    assert.equal(bobApp.restarts, 0);
    // Events on a tenant's socket are theirs only, named without the prefix.
    const events = JSON.parse((await asTenant(alice, 'events', '--json')).stdout) as EventEntry[];
    assert.ok(events.length > 0);
    assert.ok(events.every((e) => e.service === 'app' || e.service.startsWith('worker@') || e.service === 'sock'), JSON.stringify(events.map((e) => e.service)));
  });

  test("a tenant's admin stop and start work on their socket and are recorded with their uid", async () => {
    const stop = await asTenant(alice, 'stop', 'app', '--reason', 'tenant test');
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await project.service(`${alice.name}/app`)).state, 'stopped');
    const why = JSON.parse((await project.cli('why', `${alice.name}/app`, '--json')).stdout) as EventEntry[];
    const last = why[why.length - 1]!;
    assert.equal(last.cause.kind, 'admin');
    assert.equal(last.cause.uid, alice.uid);
    assert.equal(last.cause.socket, aliceSocket);
    assert.equal((await asTenant(alice, 'start', 'app')).code, 0);
    await project.running(`${alice.name}/app`);
  });

  test("another user's socket refuses the connection", async () => {
    const r = await project.cliAs({ uid: alice.uid, gid: alice.gid, socket: bobSocket }, 'status');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /not allowed to connect to .*\.sock \(the control socket is private to its owner/);
  });

  test("a tenant's file cannot pick a user, set the daemon's protocol variables, or be a link to root's file", () => {
    const out = project.daemonOutput;
    assert.match(out, /evil\.toml:2: user: a tenant's services always run as the tenant/);
    assert.match(out, /notify-hijack\.toml:2: environment\.NOTIFY_SOCKET: is set by upkeep itself/);
    assert.match(out, /stolen\.toml: is a symbolic link/);
    assert.doesNotMatch(out, /etc\/shadow/);
  });

  test("a socket path through a tenant's planted link cannot make root create a file elsewhere", async () => {
    await waitFor(async () => (await project.service(`${alice.name}/sock`)).state === 'backoff', 10_000, () => project.daemonOutput);
    const s = await project.service(`${alice.name}/sock`);
    assert.equal(s.cause?.kind, 'spawn-error');
    assert.equal(s.cause?.errno, 'EACCES');
    assert.deepEqual(readdirSync(rootOnly), ['secret.toml']);
    assert.equal(existsSync(join(rootOnly, 'app.sock')), false);
  });

  test('a tenant folder that appears is picked up by a reload, with its socket', async () => {
    carol = makeUser(`upk-c-${tag}`, join(project.dir, 'home'));
    writeAs(carol, 'app.toml', SHOW_IDENTITY);
    const r = await project.cli('reload');
    assert.equal(r.code, 1, 'alice still has broken files, and reload says so');
    assert.match(r.stderr, /evil\.toml:2: user/);
    const s = await project.running(`${carol.name}/app`);
    assert.ok(s.pid !== null);
    const socket = join(project.dir, 'tenants', `${carol.name}.sock`);
    await waitFor(() => existsSync(socket), 5000, () => 'no socket for the new tenant');
    const mine = await project.cliAs({ uid: carol.uid, gid: carol.gid, socket }, 'status', '--json');
    assert.equal(mine.code, 0, mine.stderr);
    assert.deepEqual((JSON.parse(mine.stdout) as StatusEntry[]).map((e) => e.name), ['app']);
  });

  test('template instances: start NAME@X makes a durable instance that survives a daemon restart', async () => {
    const r = await asTenant(alice, 'start', 'worker@blue');
    assert.equal(r.code, 0, r.stderr);
    const s = await project.running(`${alice.name}/worker@blue`);
    await waitFor(async () => (await project.cli('logs', `${alice.name}/worker@blue`)).stdout.includes('instance='), 5000, () => 'no output');
    assert.match((await project.cli('logs', `${alice.name}/worker@blue`)).stdout, new RegExp(`instance=blue user=${alice.name} home=${alice.home}`));
    assert.ok((await tenantStatus(alice)).some((e) => e.name === 'worker@blue'));
    const bad = await asTenant(alice, 'start', 'worker@no good');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bad instance name/);

    // Restart the daemon: the instance comes back.
    const [daemon] = (project as unknown as { daemons: import('node:child_process').ChildProcess[] }).daemons;
    await project.stopDaemon(daemon!);
    const daemonConfig = join(project.dir, 'daemon.toml');
    await project.startDaemon(['--daemon-config', daemonConfig]);
    const again = await project.running(`${alice.name}/worker@blue`);
    assert.notEqual(again.pid, s.pid);

    // Stopped and disabled, it is forgotten, also across a restart.
    assert.equal((await asTenant(alice, 'stop', 'worker@blue')).code, 0);
    const forget = await asTenant(alice, 'disable', 'worker@blue');
    assert.equal(forget.code, 0, forget.stderr);
    assert.match(forget.stdout, /forgotten/);
    assert.ok(!(await tenantStatus(alice)).some((e) => e.name === 'worker@blue'));
  });
});
