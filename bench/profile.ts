/**
 * `node dist/bench/profile.js [N] [--no-cgroups] [--concurrency K] [--node-spawner]`: where a start storm and a
 * stop of all go. Runs the daemon in this process (startDaemon) on N trivial services, with the
 * V8 profiler on around the start (until every service runs) and around the stop, and prints
 * both times and the functions with the most self time. Native calls (posix_spawn, bind, kill)
 * show up under the JS function that made them. Nothing is asserted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../src/daemon/daemon.js';
import { defaultDaemonConfig } from '../src/daemon/daemon-config.js';
import { NodeSpawner } from '../src/process/node-spawner.js';
import { sleep } from './util.js';

const args = process.argv.slice(2);
const n = Number(args.find((a) => /^\d+$/.test(a)) ?? 600);
const cgroups = !args.includes('--no-cgroups');
const nodeSpawner = args.includes('--node-spawner');
const concurrencyAt = args.indexOf('--concurrency');
const concurrency = concurrencyAt === -1 ? undefined : Number(args[concurrencyAt + 1]);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function topSelfTime(profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }, count: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return [...self].sort((a, b) => b[1] - a[1]).slice(0, count).map(([key, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms  ${key}`);
}

const dir = mkdtempSync(join(tmpdir(), 'upkeep-profile-'));
const config = join(dir, 'services');
mkdirSync(config);
for (let i = 0; i < n; i++) writeFileSync(join(config, `s${String(i).padStart(4, '0')}.toml`), 'command = ["sleep", "1000000"]\n');
const session = new Session();
session.connect();
await session.post('Profiler.enable');
try {
  await session.post('Profiler.start');
  const t0 = performance.now();
  const daemon = await startDaemon({
    configDir: config,
    stateDir: join(dir, 'state'),
    socketPath: join(dir, 'upkeep.sock'),
    cgroups,
    ...(nodeSpawner ? { spawner: new NodeSpawner() } : {}),
    config: { ...defaultDaemonConfig(), ...(concurrency === undefined ? {} : { maxConcurrentStarts: concurrency }) },
    say: () => undefined,
    echoEvents: false,
  });
  while (!daemon.supervisor.status().every((s) => s.state === 'running')) await sleep(20);
  const startMs = performance.now() - t0;
  const start = (await session.post('Profiler.stop')).profile as unknown as Parameters<typeof topSelfTime>[0];
  await sleep(1500);
  await session.post('Profiler.start');
  const t1 = performance.now();
  await daemon.stop();
  const stopMs = performance.now() - t1;
  const stop = (await session.post('Profiler.stop')).profile as unknown as Parameters<typeof topSelfTime>[0];
  console.log(`N=${n} spawner=${nodeSpawner ? 'node' : 'default'} cgroups=${cgroups} max_concurrent_starts=${concurrency ?? defaultDaemonConfig().maxConcurrentStarts}`);
  console.log(`start of all: ${startMs.toFixed(0)} ms; self time:`);
  for (const line of topSelfTime(start, 12)) console.log(line);
  console.log(`stop of all: ${stopMs.toFixed(0)} ms; self time:`);
  for (const line of topSelfTime(stop, 8)) console.log(line);
} finally {
  session.disconnect();
  rmSync(dir, { recursive: true, force: true });
}
