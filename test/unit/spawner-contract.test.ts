// The Spawner contract (spawner.ts), one suite run against every implementation (NodeSpawner,
// NativeSpawner) with real processes: own process group, exit code and signal reported once,
// complete output, spawn errors as data, exact environment, pid variables, fds at 3, 4, … and
// nothing else, default signal dispositions, and a uid through the exec shim (a real system
// user, made in before()). Then what only the native addon adds: its exits are not stolen by
// Node's children (nor theirs by it), and 2000 spawns leave no fd behind. The native spawner runs
// the suite twice: plain (posix_spawn), and with every request in a cgroup v2 directory, which it
// creates the process in (its own clone3 child instead of posix_spawn; where the kernel has it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn as nodeSpawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createServiceCgroup, detectCgroups, removeCgroupParent, type ServiceCgroup } from '../../src/process/cgroups.js';
import { execShimPath, type LaunchRequest } from '../../src/process/exec-shim.js';
import { loadAddon } from '../../src/process/native-addon.js';
import { NativeSpawner, nativeSpawnerAvailable, nativeSpawnerIntoCgroup, nativeSpawnerOwnClone } from '../../src/process/native-spawner.js';
import { NodeSpawner } from '../../src/process/node-spawner.js';
import type { SpawnCallbacks, SpawnOutcome, Spawner } from '../../src/process/spawner.js';

interface Implementation {
  name: string;
  make(options?: { execShim?: string | null }): Spawner;
  skip: string | false;
  /** Guarantees of the contract this implementation is known not to give, with the reason. */
  gaps: { inheritedFds?: string; enoexec?: string };
}

// A cgroup v2 directory of this test's own (removed in after()), where one can be made.
const cgroupSupport = process.getuid?.() === 0 ? detectCgroups({ parent: `upkeep-test-spawner-${process.pid}` }) : undefined;
let contractCgroup: ServiceCgroup | undefined;
function cgroupForContract(): ServiceCgroup {
  if (cgroupSupport?.available !== true) throw new Error('no cgroups');
  return (contractCgroup ??= createServiceCgroup(cgroupSupport, 'contract'));
}
const intoCgroupSkip =
  !nativeSpawnerAvailable() ? 'native/spawn not built or no pidfd'
  : !nativeSpawnerIntoCgroup() ? 'this kernel or build cannot create a process in a cgroup (clone3 CLONE_INTO_CGROUP)'
  : cgroupSupport?.available !== true || cgroupSupport.kind === 'v1' ? 'no cgroup v2 here (needs root and a cgroup2 mount)'
  : false;

/** Every request made in the contract's cgroup, as the daemon asks for a service's runs. */
class InCgroup implements Spawner {
  constructor(private readonly inner: Spawner) {}
  spawn(request: LaunchRequest, callbacks: SpawnCallbacks): void {
    const group = cgroupForContract();
    this.inner.spawn({ ...request, cgroup: group.dirs, cgroupV2: group.v2Dir }, callbacks);
  }
}

const implementations: Implementation[] = [
  {
    name: 'NodeSpawner',
    make: (options) => new NodeSpawner(options),
    skip: false,
    gaps: {
      inheritedFds: 'Node passes on the fds the daemon itself inherited without close-on-exec',
      enoexec: "Node's execvp runs a file it cannot execute with /bin/sh (exit 127 or worse)",
    },
  },
  {
    name: 'NativeSpawner',
    make: (options) => new NativeSpawner(options),
    skip: nativeSpawnerAvailable() ? false : 'native/spawn not built (npm run build:native) or no pidfd',
    gaps: {},
  },
  {
    name: 'NativeSpawner, through posix_spawn',
    make: (options) => new NativeSpawner({ ...options, via: 'posix_spawn' }),
    skip: nativeSpawnerAvailable() ? false : 'native/spawn not built (npm run build:native) or no pidfd',
    gaps: {},
  },
  {
    name: 'NativeSpawner, born in a cgroup v2',
    make: (options) => new InCgroup(new NativeSpawner(options)),
    skip: intoCgroupSkip,
    gaps: {},
  },
];

const PATH = '/usr/local/bin:/usr/bin:/bin';
const started = new Set<number>();

interface Run {
  dones: SpawnOutcome[];
  exits: Array<[number | null, string | null]>;
  out: Buffer[];
  err: Buffer[];
  /** 'done', 'exit', 'out', 'err' in the order the callbacks came. */
  order: string[];
  /** Resolves with the spawn outcome. */
  spawned: Promise<SpawnOutcome>;
  /** Resolves after onExit (or a failed spawn) once no callback came for `quietMs`. */
  finished(quietMs?: number): Promise<void>;
}

function start(spawner: Spawner, request: LaunchRequest): Run {
  let last = Date.now();
  let ended: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  let resolveSpawned: (o: SpawnOutcome) => void;
  const run: Run = {
    dones: [],
    exits: [],
    out: [],
    err: [],
    order: [],
    spawned: new Promise((resolve) => (resolveSpawned = resolve)),
    async finished(quietMs = 100) {
      await end;
      while (Date.now() - last < quietMs) await sleep(quietMs - (Date.now() - last));
    },
  };
  spawner.spawn(request, {
    done(outcome) {
      last = Date.now();
      run.dones.push(outcome);
      run.order.push('done');
      if (outcome.ok) started.add(outcome.pid);
      resolveSpawned(outcome);
      if (!outcome.ok) ended();
    },
    onOutput(stream, chunk) {
      last = Date.now();
      run.order.push(stream);
      (stream === 'out' ? run.out : run.err).push(chunk);
    },
    onExit(code, signal) {
      last = Date.now();
      run.exits.push([code, signal]);
      run.order.push('exit');
      ended();
    },
  });
  return run;
}

async function runToEnd(spawner: Spawner, request: LaunchRequest): Promise<Run> {
  const run = start(spawner, request);
  await run.finished();
  return run;
}

/** The cgroup2 mount point that holds `dir`. */
function cgroupMountOf(dir: string): string {
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(' - cgroup2 '))
    .map((line) => line.split(' ')[4]!);
  return points.filter((p) => dir.startsWith(`${p}/`)).sort((a, b) => b.length - a.length)[0]!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();
const pidOf = (o: SpawnOutcome) => (o.ok ? o.pid : assert.fail(`spawn failed: ${o.errno} ${o.message}`));

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Fields 5 (pgid) and 6 (session) of /proc/PID/stat. */
function groupAndSession(pid: number): [number, number] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [Number(rest[2]), Number(rest[3])];
}

/** This process's fds above stdio that a child would inherit through exec (no O_CLOEXEC). */
function inheritableFds(): number[] {
  const O_CLOEXEC = 0o2000000;
  return fs
    .readdirSync('/proc/self/fd')
    .map(Number)
    .filter((fd) => {
      if (fd <= 2) return false;
      try {
        const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
        return flags !== null && (parseInt(flags[1]!, 8) & O_CLOEXEC) === 0;
      } catch {
        return false; // the fd of the readdir itself, closed by now
      }
    });
}

let tmp: string;
let user: { name: string; uid: number; gid: number } | undefined;
const asRoot = process.getuid?.() === 0;

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-spawner-'));
  fs.chmodSync(tmp, 0o755);
  if (asRoot) {
    const name = `upkeep-sp-${process.pid % 100000}`;
    execFileSync('useradd', ['--system', '--no-create-home', name]);
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, name], { encoding: 'utf8' }).trim()));
    user = { name, uid: uid!, gid: gid! };
  }
});

after(async () => {
  for (const pid of started) killGroup(pid);
  if (cgroupSupport?.available === true) {
    for (let i = 0; i < 50 && (contractCgroup?.pids().length ?? 0) > 0; i++) await sleep(20); // killed ones reaped
    contractCgroup?.remove();
    removeCgroupParent(cgroupSupport);
  }
  if (user !== undefined) execFileSync('userdel', [user.name]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

for (const impl of implementations) {
  describe(`Spawner contract: ${impl.name}`, { skip: impl.skip }, () => {
    const base = { directory: '/tmp', env: { PATH } };

    test('the child leads its own session and process group (pgid == sid == pid)', async () => {
      const run = start(impl.make(), { ...base, command: ['sleep', '1000'] });
      const pid = pidOf(await run.spawned);
      assert.deepEqual(groupAndSession(pid), [pid, pid]);
      killGroup(pid);
      await run.finished();
    });

    test('an exit code is reported exactly once, after done', async () => {
      const run = await runToEnd(impl.make(), { ...base, command: ['sh', '-c', 'exit 7'] });
      assert.equal(run.dones.length, 1);
      assert.ok(run.dones[0]!.ok);
      assert.deepEqual(run.exits, [[7, null]]);
      assert.equal(run.order[0], 'done');
    });

    test('a SIGKILL is reported as the signal, exactly once', async () => {
      const run = start(impl.make(), { ...base, command: ['sleep', '1000'] });
      killGroup(pidOf(await run.spawned));
      await run.finished();
      assert.deepEqual(run.exits, [[null, 'SIGKILL']]);
      assert.equal(run.dones.length, 1);
    });

    test('both streams arrive complete, also a 1 MiB burst on each', async () => {
      const MiB = 1 << 20;
      const script = `head -c ${MiB} /dev/zero | tr '\\0' o; echo; head -c ${MiB} /dev/zero | tr '\\0' e >&2; echo done >&2`;
      const run = await runToEnd(impl.make(), { ...base, command: ['sh', '-c', script] });
      assert.deepEqual(run.exits, [[0, null]]);
      assert.equal(text(run.out), `${'o'.repeat(MiB)}\n`);
      assert.equal(text(run.err), `${'e'.repeat(MiB)}done\n`);
    });

    test('a missing program is a spawn error, never an exit', async () => {
      for (const program of ['no-such-program-xyz', '/no/such/program']) {
        const run = await runToEnd(impl.make(), { ...base, command: [program] });
        assert.deepEqual(run.dones, [{ ok: false, errno: 'ENOENT', message: `program ${program} not found` }]);
        assert.deepEqual(run.exits, []);
      }
    });

    test('a file without execute permission is EACCES', async () => {
      const file = path.join(tmp, `not-executable-${impl.name}`);
      fs.writeFileSync(file, '#!/bin/sh\n', { mode: 0o644 });
      const run = await runToEnd(impl.make(), { ...base, command: [file] });
      assert.deepEqual(run.dones, [{ ok: false, errno: 'EACCES', message: `permission denied executing ${file}` }]);
      assert.deepEqual(run.exits, []);
    });

    test('a file the system cannot execute is ENOEXEC', { todo: impl.gaps.enoexec }, async () => {
      const file = path.join(tmp, `garbage-${impl.name}`);
      fs.writeFileSync(file, '\x01\x02\x03 not a program\n', { mode: 0o755 });
      const run = await runToEnd(impl.make(), { ...base, command: [file] });
      assert.equal(run.dones.length, 1);
      assert.equal(run.dones[0]!.ok ? 'ok' : run.dones[0]!.errno, 'ENOEXEC');
      assert.deepEqual(run.exits, []);
    });

    test('a missing working directory is named as such', async () => {
      for (const extra of [{}, { nice: 1 }]) {
        const run = await runToEnd(impl.make(), { ...base, ...extra, directory: '/no/such/dir', command: ['true'] });
        assert.deepEqual(run.dones, [{ ok: false, errno: 'ENOENT', message: 'directory /no/such/dir cannot be used (ENOENT)' }]);
      }
    });

    test('the program runs in the directory with exactly the given environment', async () => {
      const env = { PATH, A: '1', SPACED: 'two words', EMPTY: '', UNICODE: 'grüße' };
      const run = await runToEnd(impl.make(), { directory: tmp, env, command: ['sh', '-c', 'pwd >&2; exec env'] });
      assert.deepEqual(run.exits, [[0, null]]);
      assert.equal(text(run.err), `${tmp}\n`);
      // sh itself adds PWD (and no more) before the exec
      const expected = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), `PWD=${tmp}`].sort();
      assert.deepEqual(text(run.out).trim().split('\n').sort(), expected);
    });

    for (const [label, execShim] of [['upkeep-exec', undefined], ['the /bin/sh fallback', null]] as const) {
      test(`pidEnv through ${label}: WATCHDOG_PID is the program's own pid`, async () => {
        const request = { ...base, command: ['sh', '-c', 'echo $WATCHDOG_PID $$'], pidEnv: ['WATCHDOG_PID'] };
        const run = await runToEnd(impl.make({ execShim }), request);
        const pid = pidOf(run.dones[0]!);
        assert.deepEqual(text(run.out).trim().split(' ').map(Number), [pid, pid]);
      });
    }

    test('fds arrive at 3 and 4, with or without the shim', async () => {
      const files = ['first', 'second'].map((name) => {
        fs.writeFileSync(path.join(tmp, name), `${name}\n`);
        return path.join(tmp, name);
      });
      for (const extra of [{}, { umask: 0o22 }]) {
        const fds = files.map((file) => fs.openSync(file, 'r')); // fresh offsets per run
        try {
          const run = await runToEnd(impl.make(), { ...base, ...extra, command: ['sh', '-c', 'cat <&3; cat <&4'], fds });
          assert.equal(text(run.out), 'first\nsecond\n');
        } finally {
          for (const fd of fds) fs.closeSync(fd);
        }
      }
    });

    const inherited = inheritableFds();
    const leakTodo = inherited.length > 0 ? impl.gaps.inheritedFds : undefined;
    test(`no other fd of the daemon reaches the child${inherited.length > 0 ? ` (inherited here: ${inherited.join(', ')})` : ''}`, { todo: leakTodo }, async () => {
      const file = fs.openSync(path.join(tmp, 'passed'), 'w');
      const run = start(impl.make(), { ...base, command: ['sleep', '1000'], fds: [file, file] });
      const pid = pidOf(await run.spawned);
      try {
        await sleep(20); // sleep's own start-up (locale files) is over
        const fds = fs.readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b);
        assert.deepEqual(fds, [0, 1, 2, 3, 4]);
        assert.equal(fs.readlinkSync(`/proc/${pid}/fd/0`), '/dev/null');
        // A pipe from the native spawner, a socketpair from libuv (Node's stdio 'pipe').
        for (const fd of [1, 2]) assert.match(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), /^(pipe|socket):/);
      } finally {
        killGroup(pid);
        fs.closeSync(file);
        await run.finished();
      }
    });

    test('signals start at their default action and unblocked (SIGPIPE not ignored)', async () => {
      assert.notEqual(/SigIgn:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1], '0000000000000000');
      const run = start(impl.make(), { ...base, command: ['sleep', '1000'] });
      const pid = pidOf(await run.spawned);
      try {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        assert.equal(/SigIgn:\s*(\S+)/.exec(status)![1], '0000000000000000');
        assert.equal(/SigBlk:\s*(\S+)/.exec(status)![1], '0000000000000000');
      } finally {
        killGroup(pid);
        await run.finished();
      }
    });

    for (const [label, execShim] of [['through upkeep-exec', undefined], ['without the exec shim', null]] as const) {
      const skip = !asRoot ? 'needs root' : execShim === undefined && execShimPath() === undefined ? 'upkeep-exec not built' : false;
      test(`a uid request ${label}: runs as the user, keeps the pid, enters the directory`, { skip }, async () => {
        const u = user!;
        const script = 'echo "$(id -u) $(id -g) $$ $WATCHDOG_PID $(pwd)"';
        const request = { directory: tmp, env: { PATH }, command: ['sh', '-c', script], uid: u.uid, gid: u.gid, pidEnv: ['WATCHDOG_PID'] };
        const run = await runToEnd(impl.make({ execShim }), request);
        assert.deepEqual(run.exits, [[0, null]], text(run.err));
        const pid = pidOf(run.dones[0]!);
        assert.equal(text(run.out), `${u.uid} ${u.gid} ${pid} ${pid} ${tmp}\n`);
      });
    }
  });
}

describe('native addon only', { skip: implementations[1]!.skip }, () => {
  interface Addon {
    spawn(file: string, argv: string[], envp: string[], cwd: string, fds: number[], onExit: () => void, cgroup?: string): unknown;
  }
  const addon = () => loadAddon<Addon>('spawn', (m) => typeof m.spawn === 'function')!;

  test('exec errors come back from spawn() itself, with the errno name', () => {
    const plain = path.join(tmp, 'plain-direct');
    fs.writeFileSync(plain, '#!/bin/sh\n', { mode: 0o644 });
    const garbage = path.join(tmp, 'garbage-direct');
    fs.writeFileSync(garbage, '\x01\x02 not a program', { mode: 0o755 });
    const cases: Array<[string, string]> = [
      ['/no/such/program', 'ENOENT'],
      [plain, 'EACCES'],
      [garbage, 'ENOEXEC'],
    ];
    for (const [file, code] of cases) {
      assert.throws(() => addon().spawn(file, [file], [], '/', [], () => assert.fail('no exit for a failed spawn')), { code });
    }
    assert.throws(() => addon().spawn('/bin/true', ['true'], [], '/no/such/dir', [], () => {}), { code: 'ENOENT' });
    assert.throws(() => addon().spawn('/bin/true', ['a\0b'], [], '/', [], () => {}), TypeError);
  });

  // Uses the test process's own fds 3 and 4 (Node's epoll fd and a libuv pipe): the only way to
  // have a source at a target number. Node's spawn is not asked this: libuv hands the child one
  // of its own pipes instead of its fd 4; a daemon's sockets never have such low numbers there.
  test('fds that are themselves 3 and 4 are swapped, not clobbered', async () => {
    const links = [3, 4].map((fd) => fs.readlinkSync(`/proc/self/fd/${fd}`));
    const run = start(new NativeSpawner(), { directory: '/', env: { PATH }, command: ['sleep', '1000'], fds: [4, 3] });
    const pid = pidOf(await run.spawned);
    try {
      assert.deepEqual([3, 4].map((fd) => fs.readlinkSync(`/proc/${pid}/fd/${fd}`)), [links[1], links[0]]);
    } finally {
      killGroup(pid);
      await run.finished();
    }
  });

  // The addon's clone3 child shares the daemon's fd table and copies only its reserved low slots,
  // which hold the sources (pipes, then up to 14 sockets) during a spawn. More sockets than slots
  // take the full copy instead; both must give the same fds, and leave no copy in the daemon.
  test('more sockets than the reserved slots arrive in order too; the daemon keeps no copy of any', { skip: !nativeSpawnerOwnClone() && 'no own clone3 here' }, async () => {
    const count = () => fs.readdirSync('/proc/self/fd').length;
    for (const n of [2, 14, 20]) {
      const files = Array.from({ length: n }, (_, i) => {
        fs.writeFileSync(path.join(tmp, `many-${i}`), `${i}\n`);
        return fs.openSync(path.join(tmp, `many-${i}`), 'r');
      });
      const before = count();
      try {
        const script = `cat ${files.map((_, i) => `/dev/fd/${3 + i}`).join(' ')}`; // sh redirects only fds 0-9
        const run = await runToEnd(new NativeSpawner(), { directory: '/', env: { PATH }, command: ['sh', '-c', script], fds: files });
        assert.equal(text(run.out), files.map((_, i) => `${i}\n`).join(''), `${n} sockets`);
        assert.equal(count(), before, `${n} sockets: the daemon's fds after the run`);
      } finally {
        for (const fd of files) fs.closeSync(fd);
      }
    }
  });

  test("Node's children and native ones, mixed: each side gets its own exit codes", async () => {
    const native = new NativeSpawner();
    const nodeExits: Array<Promise<[number | null, number]>> = [];
    const nativeRuns: Array<[Run, number]> = [];
    for (let i = 0; i < 40; i++) {
      const code = i % 50;
      if (i % 2 === 0) {
        const child = nodeSpawn('sh', ['-c', `sleep 0.0$((${i} % 5)); exit ${code}`], { stdio: 'ignore' });
        nodeExits.push(new Promise((resolve) => child.once('exit', (c) => resolve([c, code]))));
      } else {
        nativeRuns.push([start(native, { directory: '/', env: { PATH }, command: ['sh', '-c', `sleep 0.0$((${i} % 5)); exit ${code}`] }), code]);
      }
    }
    for (const [got, want] of await Promise.all(nodeExits)) assert.equal(got, want);
    for (const [run, code] of nativeRuns) {
      await run.finished(20);
      assert.deepEqual(run.exits, [[code, null]]);
    }
  });

  test('a child made in a cgroup is in it when spawn() returns; the exec shim is not needed for it', { skip: intoCgroupSkip }, async () => {
    const group = cgroupForContract();
    const relative = `0::${group.v2Dir!.slice(cgroupMountOf(group.v2Dir!).length)}`;
    const exited = new Promise<void>((resolve) => {
      const child = addon().spawn('/bin/sleep', ['sleep', '1000'], [], '/', [], () => resolve(), group.v2Dir) as { pid: number; stdout: number; stderr: number };
      started.add(child.pid);
      // Read before this turn of the loop ends: a shim or a join afterwards could not be this early.
      const line = fs.readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'));
      assert.equal(line, relative);
      fs.closeSync(child.stdout);
      fs.closeSync(child.stderr);
      killGroup(child.pid);
    });
    await exited;
    // Through the spawner: only the v1 directories (none here without limits) go to the shim.
    const run = start(new NativeSpawner(), { directory: '/', env: { PATH }, command: ['sleep', '1000'], cgroup: [group.v2Dir!], cgroupV2: group.v2Dir });
    const pid = pidOf(await run.spawned);
    try {
      assert.ok(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').includes(relative));
      assert.deepEqual(group.pids(), [pid]);
    } finally {
      killGroup(pid);
      await run.finished();
    }
  });

  test('a cgroup that cannot take the child is a spawn error naming the cgroup, not the program', { skip: intoCgroupSkip }, async () => {
    const gone = path.join(path.dirname(cgroupForContract().v2Dir!), 'no-such.service');
    assert.throws(() => addon().spawn('/bin/true', ['true'], [], '/', [], () => assert.fail('no exit'), gone), { code: 'ENOENT', cgroup: gone });
    const run = await runToEnd(new NativeSpawner(), { directory: '/', env: { PATH }, command: ['true'], cgroup: [gone], cgroupV2: gone });
    assert.deepEqual(run.exits, []);
    assert.equal(run.dones.length, 1);
    const outcome = run.dones[0]!;
    assert.ok(!outcome.ok);
    assert.equal(outcome.errno, 'ENOENT');
    assert.match(outcome.message, /cgroup \S*no-such\.service/);
  });

  test('2000 spawns leave no fd behind in the daemon (half of them made in a cgroup, where possible)', { timeout: 120_000 }, async () => {
    const plain = new NativeSpawner();
    const inCgroup = intoCgroupSkip === false ? new InCgroup(plain) : plain;
    let turn = 0;
    const native: Spawner = { spawn: (request, callbacks) => (turn++ % 2 === 0 ? plain : inCgroup).spawn(request, callbacks) };
    const count = () => fs.readdirSync('/proc/self/fd').length;
    const spawnBatch = () => Promise.all(Array.from({ length: 50 }, () => start(native, { directory: '/', env: {}, command: ['/bin/true'] }).finished(0)));
    await spawnBatch(); // warm-up: lazily opened fds (libuv's, the addon's) are not leaks
    await sleep(50);
    const before = count();
    for (let i = 0; i < 40; i++) await spawnBatch();
    let afterCount = count();
    for (let i = 0; i < 50 && afterCount > before; i++) {
      await sleep(20); // the output sockets close a loop turn after EOF
      afterCount = count();
    }
    assert.equal(afterCount, before);
  });
});
