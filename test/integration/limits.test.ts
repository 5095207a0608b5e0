/**
 * Limits through the real daemon: rlimits, umask and nice reach the program (the exec shim sets
 * them before exec), a cgroup pids limit is enforced, and `stop` also ends a process that left
 * the service's process group (found through the service's cgroup). The cgroup cases are
 * skipped, saying why, on a machine where the daemon cannot make cgroups.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { detectCgroups, removeCgroupParent } from '../../src/process/cgroups.js';
import { childrenOf, FIXTURES, processAlive, Project, waitFor } from './harness.js';

const project = new Project();
const cgroups = detectCgroups({ parent: 'upkeep-limits-probe' });
const noCgroups = cgroups.available ? false : `no cgroups here: ${cgroups.reason}`;

before(async () => {
  project.write(
    'limited.toml',
    [
      'command = ["/bin/sh", "-c", "echo nofile=$(ulimit -n) core=$(ulimit -c) umask=$(umask); exec sleep 1000"]',
      'umask = "0027"',
      'nice = 7',
      '[limits]',
      'nofile = 1234',
      'core = 0',
      '',
    ].join('\n'),
  );
  project.write(
    'forky.toml',
    `command = ["/usr/bin/python3", "${join(FIXTURES, 'fork-many.py')}", "8"]\n[limits]\npids = 4\n`,
  );
  project.write('escaper.toml', 'command = ["/bin/sh", "-c", "setsid sleep 1000 & exec sleep 1000"]\n');
  await project.startDaemon();
});

after(async () => {
  await project.cleanup();
  // detectCgroups made its (empty) parent folder: take it away again.
  if (cgroups.available) removeCgroupParent(cgroups);
});

describe('limits', () => {
  test('rlimits, umask and nice are applied to the program', async () => {
    const s = await project.running('limited');
    await waitFor(async () => (await project.cli('logs', 'limited')).stdout.includes('nofile='), 5000, () => project.daemonOutput);
    assert.match((await project.cli('logs', 'limited')).stdout, /nofile=1234 core=0 umask=0027/);
    const stat = readFileSync(`/proc/${s.pid}/stat`, 'utf8');
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    assert.equal(nice, 7);
  });

  test('a cgroup pids limit is enforced', { skip: noCgroups }, async () => {
    const s = await project.running('forky');
    await waitFor(async () => (await project.cli('logs', 'forky')).stdout.includes('forked'), 10_000, () => project.daemonOutput);
    assert.match((await project.cli('logs', 'forky')).stdout, /forked 3 of 8/);
    const cg = readFileSync(`/proc/${s.pid}/cgroup`, 'utf8');
    assert.match(cg, /upkeep-[0-9a-f]{12}\/forky\.service/);
  });

  test('stop also ends a process that left the process group', { skip: noCgroups }, async () => {
    const s = await project.running('escaper');
    let escaped: number | undefined;
    await waitFor(() => {
      escaped = childrenOf(s.pid!).find((pid) => {
        const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[2]) !== s.pid; // another pgid
      });
      return escaped !== undefined;
    }, 5000, () => 'no escaped child');
    project.track(escaped!);
    assert.equal((await project.cli('stop', 'escaper')).code, 0);
    await waitFor(() => !processAlive(escaped!), 5000, () => `pid ${escaped} outlived the stop`);
  });
});
