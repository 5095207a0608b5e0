// The exec shim: shimArgv as a pure function, then the real built upkeep-exec through NodeSpawner
// with a real system user (made here with useradd, removed in after()): identity, groups,
// limits, umask, nice, pid variables, chdir as the user, fds at 3, and the errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  execShimPath,
  needsShim,
  shimArgv,
  shimMissingWarning,
  type LaunchRequest,
} from '../../src/process/exec-shim.js';
import { NodeSpawner } from '../../src/process/node-spawner.js';
import type { SpawnOutcome } from '../../src/process/spawner.js';
import { lookupUser } from '../../src/process/users.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = path.resolve(here, '../../../test/fixtures/report-identity.sh');
const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };

test('shimArgv: every field in the shim\'s terms, chdir only with a uid, program resolved', () => {
  const request: LaunchRequest = {
    command: ['app', '--port', '80'],
    directory: '/srv/app',
    env,
    uid: 1001,
    gid: 1002,
    groups: [1002, 27],
    pidEnv: ['WATCHDOG_PID', 'LISTEN_PID'],
    rlimits: { nofile: 4096, core: 'infinity' },
    umask: 0o027,
    nice: 5,
    cgroup: ['/sys/fs/cgroup/unified/upkeep/app.service', '/sys/fs/cgroup/pids/upkeep/app.service'],
  };
  assert.deepEqual(shimArgv(request, '/usr/bin/app'), [
    '--cgroup', '/sys/fs/cgroup/unified/upkeep/app.service',
    '--cgroup', '/sys/fs/cgroup/pids/upkeep/app.service',
    '--rlimit', 'nofile=4096',
    '--rlimit', 'core=infinity',
    '--nice', '5',
    '--umask', '0027',
    '--groups', '1002,27',
    '--gid', '1002',
    '--uid', '1001', '--chdir', '/srv/app',
    '--pid-env', 'WATCHDOG_PID',
    '--pid-env', 'LISTEN_PID',
    '--', '/usr/bin/app', '--port', '80',
  ]);
  assert.deepEqual(shimArgv({ command: ['x'], directory: '/d', env, cgroup: '/cg', umask: 0 }, '/bin/x'), [
    '--cgroup', '/cg', '--umask', '0000', '--', '/bin/x',
  ]);
});

test('needsShim: only for the set-up fields', () => {
  assert.equal(needsShim({ command: ['x'], directory: '/', env }), false);
  assert.equal(needsShim({ command: ['x'], directory: '/', env, fds: [3], pidEnv: [], rlimits: {} }), false);
  assert.equal(needsShim({ command: ['x'], directory: '/', env, nice: 0 }), true);
  assert.equal(needsShim({ command: ['x'], directory: '/', env, gid: 5 }), true);
});

interface Run {
  outcome: SpawnOutcome;
  out: string;
  err: string;
  code: number | null;
  fields: Record<string, string>;
}

const started: number[] = [];

function run(request: LaunchRequest, spawner = new NodeSpawner()): Promise<Run> {
  return new Promise((resolve) => {
    let out = '';
    let err = '';
    let outcome: SpawnOutcome;
    const finish = (code: number | null) => {
      const fields = Object.fromEntries(
        out.split('\n').filter(Boolean).map((l) => [l.split(' ')[0]!, l.slice(l.indexOf(' ') + 1).trim()]),
      );
      resolve({ outcome, out, err, code, fields });
    };
    spawner.spawn(request, {
      done: (o) => {
        outcome = o;
        if (o.ok) started.push(o.pid);
        else finish(null);
      },
      onOutput: (stream, chunk) => (stream === 'out' ? (out += chunk) : (err += chunk)),
      onExit: (code) => setTimeout(() => finish(code), 50),
    });
  });
}

const shim = execShimPath();
const skip = shim === undefined ? 'upkeep-exec not built (npm run build:native)' : process.getuid?.() !== 0 ? 'needs root' : false;
describe('the real upkeep-exec', { skip }, () => {
  const suffix = `${process.pid % 100000}`;
  const userName = `upkeep-t-${suffix}`;
  const groupName = `upkeep-tg-${suffix}`;
  let tmp: string;
  let script: string;
  let user: { uid: number; gid: number; groups: number[] };
  let home: string;

  before(() => {
    execFileSync('groupadd', ['--system', groupName]);
    execFileSync('useradd', ['--system', '--no-create-home', '--groups', groupName, userName]);
    const found = lookupUser(userName);
    assert.ok(found, 'useradd made a user that users.ts can find');
    user = found;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-shim-'));
    fs.chmodSync(tmp, 0o755);
    // A copy the user can surely read and execute, whatever the checkout's permissions.
    script = path.join(tmp, 'report-identity.sh');
    fs.copyFileSync(fixture, script);
    fs.chmodSync(script, 0o755);
    home = path.join(tmp, 'home');
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, user.uid, user.gid);
  });

  after(() => {
    for (const pid of started) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    execFileSync('userdel', [userName]);
    execFileSync('groupdel', [groupName]);
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('runs as the user with groups, limits, umask, nice, pid variables, chdir and fd 3', async () => {
    assert.equal(shimMissingWarning(), undefined);
    const passed = path.join(tmp, 'passed.txt');
    fs.writeFileSync(passed, 'socket-stand-in\n', { mode: 0o600 }); // root-only: the open fd is what counts
    const fd = fs.openSync(passed, 'r');
    try {
      const r = await run({
        command: [script],
        directory: home,
        env,
        uid: user.uid,
        gid: user.gid,
        groups: user.groups,
        rlimits: { nofile: 321, core: 'infinity' },
        umask: 0o027,
        nice: 7,
        pidEnv: ['LISTEN_PID', 'WATCHDOG_PID'],
        fds: [fd],
      });
      assert.equal(r.code, 0, r.err);
      assert.ok(r.outcome.ok);
      const f = r.fields;
      assert.equal(Number(f.uid), user.uid);
      assert.equal(Number(f.gid), user.gid);
      assert.deepEqual(f.groups!.split(' ').map(Number).sort(), [...user.groups].sort());
      assert.ok(user.groups.length >= 2, 'the user is in a supplementary group');
      assert.equal(f.nofile, '321');
      assert.equal(f.core, 'unlimited');
      assert.equal(f.umask, '0027');
      assert.equal(f.nice, '7');
      assert.equal(Number(f.pid), r.outcome.pid, 'the program keeps the pid Node reported');
      assert.equal(f.listen_pid, f.pid);
      assert.equal(f.watchdog_pid, f.pid);
      assert.equal(f.pgid, f.pid, 'leads its own process group');
      assert.equal(f.cwd, home);
      assert.equal(f.fd3, 'socket-stand-in');
    } finally {
      fs.closeSync(fd);
    }
  });

  test('without --groups, root\'s own groups do not leak', async () => {
    const r = await run({ command: [script], directory: home, env, uid: user.uid, gid: user.gid });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.fields.groups, String(user.gid));
  });

  test('a directory the user cannot enter: exit 126 and one clear line', async () => {
    const closed = path.join(tmp, 'root-only');
    fs.mkdirSync(closed, { mode: 0o700 });
    const r = await run({ command: [script], directory: closed, env, uid: user.uid, gid: user.gid });
    assert.ok(r.outcome.ok, 'the shim started; the failure is its exit status');
    assert.equal(r.code, 126);
    assert.equal(r.err, `upkeep-exec: chdir ${closed}: Permission denied\n`);
    assert.equal(r.out, '');
  });

  test('a missing program stays a spawn error, user or not', async () => {
    const missing = ['no-such-program-xyz'];
    const r = await run({ command: missing, directory: home, env, uid: user.uid, gid: user.gid, nice: 1 });
    assert.deepEqual(r.outcome, { ok: false, errno: 'ENOENT', message: 'program no-such-program-xyz not found' });
  });

  test('a uid without a gid is refused before anything runs', async () => {
    const r = await run({ command: [script], directory: home, env, uid: user.uid });
    assert.equal(r.outcome.ok, false);
    assert.match(r.outcome.ok ? '' : r.outcome.message, /without a gid/);
  });

  test('the shim itself refuses a bad value with exit 126', async () => {
    const r = await run({ command: [script], directory: home, env, nice: 99 });
    assert.equal(r.code, 126);
    assert.equal(r.err, 'upkeep-exec: --nice 99: not a valid number\n');
  });

  test('without the shim: Node\'s uid/gid and the /bin/sh pid shim still work, the rest is not applied', async () => {
    const r = await run(
      { command: [script], directory: tmp, env, uid: user.uid, gid: user.gid, groups: user.groups, pidEnv: ['LISTEN_PID'] },
      new NodeSpawner({ execShim: null }),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(Number(r.fields.uid), user.uid);
    assert.equal(r.fields.groups, String(user.gid), 'no supplementary groups without the shim');
    assert.equal(r.fields.listen_pid, r.fields.pid);
    assert.equal(r.fields.cwd, tmp);
  });
});
