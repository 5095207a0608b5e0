/**
 * NodeSpawner against NativeSpawner: `node dist/bench/spawners.js [N] [--heap MB]`.
 *
 * With a daemon-like heap in this process (default 200 MB of small JS objects: what fork()
 * copies, page table by page table, for every child of Node's spawn), for each spawner:
 * - storm: N spawns of `sleep 1000000` in one go, time until all N reported done (spawned);
 *   then they are killed and reaped before the other spawner runs;
 * - round trip: spawn `true`, time until onExit; the median of 50;
 * - restart: SIGKILL a running `sleep`, time until its onExit and a new `sleep` reported spawned
 *   (what a crash costs the supervisor itself); the median of 50.
 * Nothing is asserted; figures are printed.
 */
import { NativeSpawner, nativeSpawnerAvailable } from '../src/process/native-spawner.js';
import { NodeSpawner } from '../src/process/node-spawner.js';
import type { SpawnOutcome, SpawnRequest, Spawner } from '../src/process/spawner.js';

const args = process.argv.slice(2);
const heapIndex = args.indexOf('--heap');
const heapMb = heapIndex >= 0 ? Number(args.splice(heapIndex, 2)[1]) : 200;
const N = Number(args[0] ?? 1000);
const SAMPLES = 50;
const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };

/** About `mb` MB of live, small JS objects, as a daemon holding services, events and buffers. */
function ballast(mb: number): unknown[] {
  const keep: unknown[] = [];
  for (let i = 0; i < mb * 6_800; i++) keep.push({ id: i, name: `service-${i}`, state: 'running', since: i * 1.5 });
  return keep;
}

interface Child {
  spawned: Promise<SpawnOutcome>;
  exited: Promise<void>;
}

function start(spawner: Spawner, command: string[]): Child {
  let spawned!: (o: SpawnOutcome) => void;
  let exited!: () => void;
  const child: Child = {
    spawned: new Promise((resolve) => (spawned = resolve)),
    exited: new Promise((resolve) => (exited = resolve)),
  };
  const request: SpawnRequest = { command, directory: '/', env };
  spawner.spawn(request, {
    done: (outcome) => {
      spawned(outcome);
      if (!outcome.ok) exited();
    },
    onOutput: () => {},
    onExit: () => exited(),
  });
  return child;
}

const ms = (since: bigint) => Number(process.hrtime.bigint() - since) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pidOf = (o: SpawnOutcome) => (o.ok ? o.pid : Promise.reject(new Error(`spawn failed: ${o.errno} ${o.message}`)));

async function storm(spawner: Spawner): Promise<number> {
  const t0 = process.hrtime.bigint();
  const children = Array.from({ length: N }, () => start(spawner, ['sleep', '1000000']));
  const pids = await Promise.all(children.map(async (c) => pidOf(await c.spawned)));
  const elapsed = ms(t0);
  for (const pid of pids) process.kill(-pid, 'SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  return elapsed;
}

async function roundTrip(spawner: Spawner): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = process.hrtime.bigint();
    await start(spawner, ['true']).exited;
    times.push(ms(t0));
  }
  return median(times);
}

async function restart(spawner: Spawner): Promise<number> {
  const times: number[] = [];
  let child = start(spawner, ['sleep', '1000000']);
  for (let i = 0; i < SAMPLES; i++) {
    const pid = await pidOf(await child.spawned);
    const t0 = process.hrtime.bigint();
    process.kill(-pid, 'SIGKILL');
    await child.exited;
    child = start(spawner, ['sleep', '1000000']);
    await child.spawned;
    times.push(ms(t0));
  }
  process.kill(-(await pidOf(await child.spawned)), 'SIGKILL');
  await child.exited;
  return median(times);
}

async function main(): Promise<void> {
  const keep = ballast(heapMb);
  const mem = process.memoryUsage();
  console.log(
    `heap: ${(mem.heapUsed / 2 ** 20).toFixed(0)} MB used, rss ${(mem.rss / 2 ** 20).toFixed(0)} MB ` +
      `(--heap ${heapMb}); N = ${N}, ${SAMPLES} samples per median`,
  );
  const spawners: Array<[string, Spawner]> = [['NodeSpawner', new NodeSpawner()]];
  if (nativeSpawnerAvailable()) spawners.push(['NativeSpawner', new NativeSpawner()]);
  else console.log('NativeSpawner: not available (native/spawn not built, or no pidfd)');
  for (const [name, spawner] of spawners) {
    const all = await storm(spawner);
    const trip = await roundTrip(spawner);
    const again = await restart(spawner);
    console.log(
      `${name.padEnd(13)}  ${N} spawned in ${all.toFixed(0)} ms (${(all / N).toFixed(2)} ms each)  ` +
        `spawn→exit median ${trip.toFixed(2)} ms  SIGKILL→respawned median ${again.toFixed(2)} ms`,
    );
  }
  if (keep.length === 0) console.log(); // keeps the ballast alive to the end
}

await main();
