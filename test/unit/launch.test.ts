/**
 * What a run is started with (supervisor/launch.ts): the environment's layers and the spawn
 * request's fields. Pure: no processes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceSpec } from '../../src/config/spec.js';
import { serviceEnv, spawnRequest } from '../../src/supervisor/launch.js';
import { serviceSpec } from './spec-fixture.js';

const base: ServiceSpec = serviceSpec({ name: 'alice/web', file: '/x/web.toml', command: ['/bin/web'], environment: { PORT: '80' } });
const daemonEnv = { PATH: '/usr/bin', LANG: 'C.UTF-8', LC_ALL: 'C', AWS_SECRET: 'root-only', HOME: '/root' };

test("a service of the daemon's own user gets the daemon's environment under its own", () => {
  assert.deepEqual(serviceEnv(base, daemonEnv, {}), { ...daemonEnv, PORT: '80' });
});

test("a service of another user gets a clean environment: PATH, locale, and the user's own variables", () => {
  const spec = { ...base, runAs: { user: 'alice', uid: 1001, gid: 1001, groups: [1001, 27], home: '/home/alice', shell: '/bin/bash' } };
  assert.deepEqual(serviceEnv(spec, daemonEnv, {}), {
    PATH: '/usr/bin',
    LANG: 'C.UTF-8',
    LC_ALL: 'C',
    HOME: '/home/alice',
    USER: 'alice',
    LOGNAME: 'alice',
    SHELL: '/bin/bash',
    PORT: '80',
  });
  const req = spawnRequest(spec, {}, {});
  assert.equal(req.uid, 1001);
  assert.equal(req.gid, 1001);
  assert.deepEqual(req.groups, [1001, 27]);
});

test('protocol variables come last; sockets add LISTEN_* and the pid variable; limits pass through', () => {
  const spec: ServiceSpec = {
    ...base,
    watchdogMs: 2000,
    socket: { listen: ['127.0.0.1:1'], activate: 'lazy', mode: 0o666, names: ['api'], backlog: 10 },
    limits: { nofile: 100, core: 'infinity', memory: 5 },
    umask: 0o027,
    nice: 3,
  };
  const extras = { notifyPath: '/n.sock', sockets: { fds: [7], names: ['api'] }, cgroup: ['/cg/a', '/cg/b'], cgroupV2: '/cg/a' };
  const env = serviceEnv(spec, daemonEnv, extras);
  assert.equal(env.NOTIFY_SOCKET, '/n.sock');
  assert.equal(env.WATCHDOG_USEC, '2000000');
  assert.equal(env.LISTEN_FDS, '1');
  assert.equal(env.LISTEN_FDNAMES, 'api');
  const req = spawnRequest(spec, env, extras);
  assert.deepEqual(req.pidEnv, ['WATCHDOG_PID', 'LISTEN_PID']);
  assert.deepEqual(req.fds, [7]);
  assert.deepEqual(req.rlimits, { nofile: 100, core: 'infinity' });
  assert.equal(req.umask, 0o027);
  assert.equal(req.nice, 3);
  assert.deepEqual(req.cgroup, ['/cg/a', '/cg/b']);
  assert.equal(req.cgroupV2, '/cg/a');
  assert.equal(req.uid, undefined);
});
