/**
 * `npm run bench`: N trivial services (default 1000) under one daemon. Reports seconds until all
 * run, daemon PSS, restart latency p50/p95 after SIGKILL, idle CPU over 30 s, the time of
 * `status --json` (in-process client and the CLI as a user runs it) and the time to stop all.
 * Prints a markdown table row set and a JSON line; no figure is asserted anywhere.
 *
 * Then the tenants' storm (bench/tenants.ts): the same N in BENCH_TENANTS tenants of 3 services
 * each (needs root: it makes real users), and the liveness figures (bench/liveness.ts).
 *
 * Options (env): BENCH_N (1000), BENCH_IDLE_S (30), BENCH_SETTLE_S (60: the wait before the idle
 * window), BENCH_SAMPLES (30), BENCH_TENANTS (300; 0 skips).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { call } from '../src/api/client.js';
import { cpuTicks, sleep, type Event, type Status } from './util.js';
import { probeCpu, watchdogRestart } from './liveness.js';
import { tenantStorm } from './tenants.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'upkeep.js');
/** `upkeep` as users run it: the sh wrapper, which answers `status` through the native client. */
const UPKEEP = join(ROOT, 'bin', 'upkeep');
const N = Number(process.env.BENCH_N ?? 1000);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30);
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 60);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const CLK_TCK = 100;


const began = Date.now();
const progress = (what: string) => process.stderr.write(`[bench ${((Date.now() - began) / 1000).toFixed(1)}s] ${what}\n`);

/**
 * The floor for any Node supervisor on this machine, measured in the same run: N spawns of the
 * same program from a small Node process, each in its own group with stdout/stderr piped.
 */
async function nodeSpawnBaseline(n: number): Promise<number> {
  const t0 = performance.now();
  const children: number[] = [];
  await new Promise<void>((resolveAll) => {
    let spawned = 0;
    for (let i = 0; i < n; i++) {
      const c = spawn('sleep', ['1000000'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      c.once('spawn', () => {
        children.push(c.pid as number);
        if (++spawned === n) resolveAll();
      });
    }
  });
  const ms = performance.now() - t0;
  for (const pid of children) process.kill(-pid, 'SIGKILL');
  return ms / 1000;
}

async function main(): Promise<void> {
  progress('baseline: Node spawn loop');
  const baseline = await nodeSpawnBaseline(N);
  await sleep(2000);
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-bench-'));
  const config = join(dir, 'services');
  const socketPath = join(dir, 'upkeep.sock');
  mkdirSync(config);
  for (let i = 0; i < N; i++) {
    writeFileSync(join(config, `svc${String(i).padStart(4, '0')}.toml`), 'command = ["sleep", "1000000"]\n');
  }
  const t0 = Date.now();
  const daemon = spawn(process.execPath, [BIN, 'daemon', '--config', config, '--state', join(dir, 'state'), '--socket', socketPath], {
    detached: true,
    stdio: ['ignore', 'ignore', openSync(join(dir, 'daemon.log'), 'w')],
  });
  const pid = daemon.pid as number;
  const results: Record<string, number | string> = { n: N, cores: cpus().length, node: process.version };
  const seen = new Set<number>(); // every service pid a status showed: killed by group at the end
  try {
    const status = async () => {
      const list = ((await call({ cmd: 'status' }, { socketPath })) as { services: Status[] }).services;
      for (const x of list) if (x.pid !== null) seen.add(x.pid);
      return list;
    };
    for (;;) {
      try {
        const s = await status();
        if (s.length === N && s.every((x) => x.state === 'running')) break;
      } catch {
        /* not up yet */
      }
      await sleep(100);
    }
    const events = ((await call({ cmd: 'events', limit: 10 * N }, { socketPath })) as { events: Event[] }).events;
    const lastRunning = Math.max(...events.filter((e) => e.to === 'running').map((e) => e.time));
    progress('all running');
    results.start_all_s = round((lastRunning - t0) / 1000, 2);
    results.node_spawn_baseline_s = round(baseline, 2);
    results.start_vs_baseline = round((lastRunning - t0) / 1000 / baseline, 2);
    await sleep(1000);
    results.pss_mib = round(pss(pid) / 1024, 1);

    // As in the peer bench: V8's memory reducer runs a few collections about 30 s after the storm's
    // last full one; the idle window measures the steady state after it, the settle CPU is kept.
    progress(`settling ${SETTLE_S} s`);
    const settle0 = cpuTicks(pid);
    await sleep(SETTLE_S * 1000);
    results.settle_cpu_pct = SETTLE_S > 0 ? round(((cpuTicks(pid) - settle0) / CLK_TCK / SETTLE_S) * 100, 2) : 0;
    progress('measuring idle CPU');
    const cpu0 = cpuTicks(pid);
    await sleep(IDLE_S * 1000);
    results.idle_cpu_pct = round(((cpuTicks(pid) - cpu0) / CLK_TCK / IDLE_S) * 100, 2);

    progress('timing status');
    const timings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = performance.now();
      await status();
      timings.push(performance.now() - s);
    }
    results.status_ms = round(median(timings), 1);
    const cli: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      spawnSync(UPKEEP, ['status', '--json', '--socket', socketPath], { stdio: 'ignore' });
      cli.push(performance.now() - s);
    }
    results.status_cli_ms = round(median(cli), 1);

    // Restart latency: SIGKILL a random running service, time until the daemon records it running again.
    progress('restart latency');
    const latencies: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const list = await status();
      const victim = list[Math.floor(Math.random() * list.length)] as Status;
      const seen = new Promise<number>((resolveSeen) => {
        void call(
          { cmd: 'events', name: victim.name, limit: 0, follow: true },
          {
            socketPath,
            onItem: (item) => {
              const e = item as Event;
              if (e.to === 'running') resolveSeen(e.time);
            },
          },
        ).catch(() => undefined);
      });
      await sleep(50); // let the subscription settle
      const killedAt = Date.now();
      process.kill(victim.pid as number, 'SIGKILL');
      const back = await seen;
      latencies.push(back - killedAt);
      await sleep(100);
    }
    latencies.sort((a, b) => a - b);
    results.restart_p50_ms = percentile(latencies, 50);
    results.restart_p95_ms = percentile(latencies, 95);
    results.pss_after_mib = round(pss(pid) / 1024, 1);

    progress('stopping all');
    const s = performance.now();
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    results.stop_all_s = round((performance.now() - s) / 1000, 2);
  } finally {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    for (const p of seen) {
      try {
        process.kill(-p, 'SIGKILL');
      } catch {
        /* already stopped by the daemon */
      }
    }
    if (process.env.BENCH_KEEP) console.error(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
  console.log(`| N | start all (Node spawn floor, ratio) | daemon PSS | restart p50 / p95 | idle CPU | status (client / CLI) | stop all |`);
  console.log(`|---|---|---|---|---|---|---|`);
  console.log(
    `| ${N} | ${results.start_all_s} s (${results.node_spawn_baseline_s} s, ${results.start_vs_baseline}x) | ${results.pss_mib} MiB | ` +
      `${results.restart_p50_ms} / ${results.restart_p95_ms} ms | ` +
      `${results.idle_cpu_pct} % | ${results.status_ms} / ${results.status_cli_ms} ms | ${results.stop_all_s} s |`,
  );
  console.log(JSON.stringify(results));

  const tenants = Number(process.env.BENCH_TENANTS ?? 300);
  if (tenants > 0 && process.getuid?.() === 0) {
    progress(`tenants: ${N} services, ${tenants} tenants x 3`);
    const storm = await tenantStorm(BIN, N, tenants, 3);
    const ratio = round(storm.startS / Number(results.start_all_s), 2);
    console.log('');
    console.log(`| N in tenants | start all (ratio to the plain start above) | last tenant's first start (share of the storm; fair order of equal starts) | daemon PSS |`);
    console.log('|---|---|---|---|');
    console.log(
      `| ${N} = ${tenants} x 3 + ${N - tenants * 3} own | ${round(storm.startS, 2)} s (${ratio}x) | ` +
        `${round(storm.lastTenantFirstStartS, 2)} s (${round(storm.lastTenantFirstShare * 100, 1)} %; ${round(storm.fairShare * 100, 1)} %) | ${round(storm.pssMib, 1)} MiB |`,
    );
    console.log(JSON.stringify({ tenants, tenant_start_s: round(storm.startS, 2), tenant_start_ratio: ratio, last_tenant_first_share: round(storm.lastTenantFirstShare, 3), fair_share: round(storm.fairShare, 3), tenant_pss_mib: round(storm.pssMib, 1) }));
  }

  progress('liveness: watchdog restart after SIGSTOP');
  const dog = await watchdogRestart(BIN, join(ROOT, 'test', 'fixtures', 'watchdog.py'), 5);
  progress(`liveness: daemon CPU with ${N} tcp-probed services`);
  const probing = await probeCpu(BIN, N, IDLE_S);
  console.log('');
  console.log('| watchdog = "1s": SIGSTOP to respawn (p50 / max of 5) | to READY=1 again (p50) | daemon CPU, N services tcp-probed every 10 s | probes in that time |');
  console.log('|---|---|---|---|');
  console.log(`| ${dog.p50} / ${dog.max} ms | ${dog.readyP50} ms | ${probing.cpuPct} % | ${probing.probes} |`);
  console.log(
    JSON.stringify({
      watchdog_respawn_p50_ms: dog.p50,
      watchdog_respawn_max_ms: dog.max,
      watchdog_ready_p50_ms: dog.readyP50,
      probe_cpu_pct: probing.cpuPct,
      probes: probing.probes,
    }),
  );
}

function pss(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}


const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
const round = (x: number, digits: number) => Number(x.toFixed(digits));

await main();
