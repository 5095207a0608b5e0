// cgroups.ts: the name mapping and the detection (on made-up mount tables in a temp dir), then
// real cgroups under a parent of this test's own, with real processes joined by the exec shim:
// pids limit enforced, memory limit enforced, a setsid'd process still found, kill, onEmpty.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createServiceCgroup,
  detectCgroups,
  removeCgroupParent,
  serviceDirs,
  type ServiceCgroup,
} from '../../src/process/cgroups.js';
import { execShimPath, type LaunchRequest } from '../../src/process/exec-shim.js';
import { NodeSpawner } from '../../src/process/node-spawner.js';
import type { SpawnOutcome } from '../../src/process/spawner.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-cgroups-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('service names become safe directory names, one directory per tenant', () => {
  assert.deepEqual(serviceDirs('web'), ['web.service']);
  assert.deepEqual(serviceDirs('acme/worker@3'), ['acme.tenant', 'worker@3.service']);
  assert.deepEqual(serviceDirs('..'), ['%2E..service']);
  assert.deepEqual(serviceDirs('.hidden/a b'), ['%2Ehidden.tenant', 'a%20b.service']);
  assert.deepEqual(serviceDirs('memory.max'), ['memory.max.service'], 'never a control file name');
  assert.deepEqual(serviceDirs('100%'), ['100%25.service']);
  assert.throws(() => serviceDirs('a//b'), { code: 'cgroup-bad-name' });
  assert.throws(() => serviceDirs('x'.repeat(300)), { code: 'cgroup-bad-name' });
});

function fakeMachine(name: string, mountinfo: string[], membership: string[]) {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  const files = { mountinfo: path.join(dir, 'mountinfo'), membership: path.join(dir, 'cgroup') };
  fs.writeFileSync(files.mountinfo, mountinfo.map((l) => l.replaceAll('$T', dir)).join('\n'));
  fs.writeFileSync(files.membership, membership.join('\n'));
  return { dir, files };
}

test('detect: v1 only, under our own cgroup in each hierarchy, with what is missing noted', () => {
  const m = fakeMachine(
    'v1',
    [
      '30 22 0:27 / $T/cg rw - tmpfs tmpfs rw',
      '34 30 0:31 / $T/cg/memory rw,relatime - cgroup cgroup rw,memory',
      '38 30 0:35 / $T/cg/pids rw,relatime - cgroup cgroup rw,pids',
      '39 30 0:36 / $T/cg/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
    ],
    ['4:memory:/box/one', '8:pids:/', '2:cpu,cpuacct:/'],
  );
  const s = detectCgroups({ ...m.files, parent: 'sup' });
  assert.ok(s.available);
  assert.equal(s.kind, 'v1');
  assert.deepEqual(s.parents, [`${m.dir}/cg/memory/box/one/sup`, `${m.dir}/cg/pids/sup`]);
  assert.deepEqual(s.limits, { memory: true, pids: true });
  assert.equal(s.events, false);
  assert.equal(s.killAll, false);
  assert.ok(fs.statSync(s.parents[0]!).isDirectory(), 'the parent is made');
});

test('detect: a mount showing only a subtree; nothing mounted; nothing writable', () => {
  const sub = fakeMachine('sub', ['40 30 0:37 /ns/root $T/unified rw - cgroup2 cgroup2 rw'], ['0::/ns/root/svc']);
  const s = detectCgroups(sub.files);
  assert.ok(s.available);
  assert.equal(s.kind, 'v2');
  assert.deepEqual(s.parents, [`${sub.dir}/unified/svc/upkeep`]);
  assert.ok(s.notes.some((n) => n.startsWith('memory limits cannot be enforced')));

  const none = fakeMachine('none', ['30 22 0:27 / /sys rw - sysfs sysfs rw'], ['0::/']);
  const reason = 'no cgroup filesystem is mounted for this process';
  assert.deepEqual(detectCgroups(none.files), { available: false, reason });

  const ro = fakeMachine('ro', ['40 30 0:37 / /proc/self/cg rw - cgroup2 cgroup2 rw'], ['0::/']);
  const r = detectCgroups(ro.files);
  assert.equal(r.available, false);
  assert.match(r.available ? '' : r.reason, /^cannot create cgroup \/proc\/self\/cg\/upkeep: /);
});

// ---- real cgroups ----

const support = detectCgroups({ parent: `upkeep-test-${process.pid}` });
const shim = execShimPath();
const skip = !support.available
  ? `no cgroups here: ${support.reason}`
  : shim === undefined
    ? 'upkeep-exec not built (npm run build:native)'
    : false;

interface Run {
  outcome: SpawnOutcome;
  out: string;
  code: number | null;
  signal: string | null;
}

const started: number[] = [];

/** Starts a program in the cgroup; resolves when it exits, or at once with { exited } for long-runners. */
function start(request: LaunchRequest): { pid: Promise<number>; exited: Promise<Run> } {
  let resolvePid: (pid: number) => void;
  const pid = new Promise<number>((r) => (resolvePid = r));
  const exited = new Promise<Run>((resolve) => {
    let out = '';
    let outcome: SpawnOutcome;
    new NodeSpawner().spawn(request, {
      done: (o) => {
        outcome = o;
        if (o.ok) {
          started.push(o.pid);
          resolvePid(o.pid);
        } else resolve({ outcome: o, out, code: null, signal: null });
      },
      onOutput: (_s, chunk) => (out += chunk),
      onExit: (code, signal) => setTimeout(() => resolve({ outcome, out, code, signal }), 50),
    });
  });
  return { pid, exited };
}

const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** A shell script run in the service cgroup through the exec shim. */
function inCgroup(cg: ServiceCgroup, script: string, extra: Partial<LaunchRequest> = {}) {
  return start({ command: ['/bin/sh', '-c', script], directory: '/', env, cgroup: cg.dirs, ...extra });
}

// Whatever happens below, the parent this file made goes (it holds only empty cgroups by then).
after(() => {
  if (support.available) removeCgroupParent(support);
});

describe('real cgroups on this machine', { skip }, () => {
  if (!support.available) return;
  const made: ServiceCgroup[] = [];
  after(async () => {
    for (const cg of made) cg.kill('SIGKILL');
    for (const pid of started) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const cg of made) {
      for (let i = 0; i < 50 && cg.pids().length > 0; i++) await sleep(20);
      cg.remove();
    }
    removeCgroupParent(support);
    for (const parent of support.parents) assert.equal(fs.existsSync(parent), false, `${parent} removed`);
  });

  test('pidsMax is enforced on the service\'s processes', async () => {
    const cg = createServiceCgroup(support, 'acme/forker', { pidsMax: 3 });
    made.push(cg);
    // sh + two sleeps fit; the third fork is refused by the kernel.
    const r = await inCgroup(cg, 'sleep 1 & sleep 1 & sleep 1 & echo all-forked').exited;
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.out, /all-forked/);
    assert.match(r.out, /fork/i);
    await sleep(1100);
    cg.remove();
    assert.equal(fs.existsSync(cg.dirs[0]!), false);
  });

  test('a limit asked for is reset when the cgroup is made again without it', async () => {
    const again = createServiceCgroup(support, 'acme/forker2', { pidsMax: 3 });
    made.push(again);
    const reset = createServiceCgroup(support, 'acme/forker2', {});
    const r = await inCgroup(reset, 'sleep 0.2 & sleep 0.2 & sleep 0.2 & wait; echo all-forked').exited;
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /all-forked/);
  });

  const noMemory = !support.limits.memory && 'no memory controller';
  test('memoryMax is enforced: an allocation past it is killed', { skip: noMemory }, async () => {
    const cg = createServiceCgroup(support, 'hungry', { memoryMax: 16 * 1024 * 1024 });
    made.push(cg);
    // 64 MB held in a shell variable.
    const r = await inCgroup(cg, 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo survived ${#x}').exited;
    assert.doesNotMatch(r.out, /survived/);
    // The shell holds the memory, so the kernel's OOM killer picks it.
    assert.equal(r.signal, 'SIGKILL', `exit ${r.code}, output ${r.out}`);
  });

  test('pids() finds a process that left the process group; kill ends it; onEmpty fires', async () => {
    const cg = createServiceCgroup(support, 'beta/worker@1', {});
    made.push(cg);
    // The service starts a daemon in a new session (its own pgid) and exits.
    const run = inCgroup(cg, 'setsid sleep 60 & echo $!', { uid: 65534, gid: 65534 });
    const r = await run.exited;
    assert.equal(r.code, 0);
    const escaped = Number(r.out.trim());
    const leader = await run.pid;
    assert.deepEqual(cg.pids(), [escaped]);
    const pgid = Number(fs.readFileSync(`/proc/${escaped}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
    assert.equal(pgid, escaped, 'it leads its own group, so kill(-leader) would miss it');
    assert.notEqual(pgid, leader);
    for (const dir of cg.dirs) {
      const rel = dir.split(`/upkeep-test-${process.pid}/`)[1];
      assert.equal(rel, 'beta.tenant/worker@1.service');
    }
    if (cg.onEmpty === undefined) {
      assert.equal(cg.kill('SIGKILL'), 1);
    } else {
      const empty = new Promise<void>((resolve) => cg.onEmpty!(resolve));
      assert.equal(cg.kill('SIGKILL'), 1);
      await empty;
    }
    for (let i = 0; i < 50 && cg.pids().length > 0; i++) await sleep(20);
    assert.deepEqual(cg.pids(), []);
    cg.remove();
    assert.equal(fs.existsSync(path.dirname(cg.dirs[0]!)), false, 'the empty tenant directory goes too');
  });

  test('kill with SIGTERM signals each process; remove refuses while processes are left', async () => {
    const cg = createServiceCgroup(support, 'terminated', {});
    made.push(cg);
    const run = inCgroup(cg, 'sleep 60 & sleep 60 & wait');
    await run.pid;
    for (let i = 0; i < 50 && cg.pids().length < 3; i++) await sleep(20);
    assert.equal(cg.pids().length, 3);
    assert.throws(() => cg.remove(), { code: 'cgroup-busy' });
    assert.equal(cg.kill('SIGTERM'), 3);
    const r = await run.exited;
    assert.equal(r.signal, 'SIGTERM');
    for (let i = 0; i < 50 && cg.pids().length > 0; i++) await sleep(20);
    cg.remove();
  });

  test('a limit the machine cannot enforce is an error, not silently dropped', () => {
    const fake = { ...support, limits: { memory: false, pids: support.limits.pids } };
    assert.throws(() => createServiceCgroup(fake, 'x', { memoryMax: 1 << 20 }), { code: 'cgroup-limit-unavailable' });
  });
});
