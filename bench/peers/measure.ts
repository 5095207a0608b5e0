/**
 * One measured run of one contestant at one N, the same sequence for every tool:
 *
 *   start ──► all N recorded a start ──1 s──► PSS ──► settle ──► idle CPU ──► status ──► restarts ──► stop
 *
 * - start all: from just before the tool is launched until the last service's own first start
 *   record (CLOCK_MONOTONIC on both sides);
 * - PSS: sum of Pss (smaps_rollup) over every process of the tool, services excluded;
 * - settle: a wait before the idle window (its CPU is kept as settle_cpu_pct), so that the window
 *   measures the steady state and not what a start storm leaves behind: V8 (upkeep, PM2) runs up
 *   to three memory-reducing collections about 30 s after the storm's last full collection;
 * - idle CPU: utime+stime of those processes over the idle window, in % of one core;
 * - status: wall time of the tool's own status command (median of several);
 * - restart: SIGKILL of a random service that has been up at least 1.5 s, until that service's
 *   own next start record;
 * - stop all: from asking the tool to stop until no service process is left.
 *
 * Whatever happens, `finally` leaves nothing behind: the tool, its helpers and every process
 * running this run's service program are killed and the temp folder is removed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timeout, type Driver, type Session, type Workload } from './driver.js';
import { alive, killAll, pssKiB, runningProgram, ticks } from './procs.js';
import { msBetween, now, StartLog } from './start-log.js';
import { sleep } from '../util.js';

export interface Options {
  /** Seconds between the PSS reading and the idle window. */
  settleS: number;
  idleS: number;
  samples: number;
  statusRuns: number;
  /** Print progress lines to stderr. */
  say: (line: string) => void;
}

export interface Row {
  tool: string;
  n: number;
  /** ISO date of the run. */
  date: string;
  start_s: number;
  pss_mib: number;
  /** Processes of the tool itself at the time of the PSS reading. */
  processes: number;
  /** The wait before the idle window, and the tool's CPU during it (% of one core). */
  settle_s?: number;
  settle_cpu_pct?: number;
  idle_s: number;
  idle_cpu_pct: number;
  status_ms: number | null;
  status_runs_ms: number[];
  restart_p50_ms: number | null;
  restart_p95_ms: number | null;
  restart_samples_ms: number[];
  /** Kills after which the service did not come back within 15 s. */
  restart_missed: number;
  stop_s: number;
  /** From the stop request until the tool's own processes had exited too. */
  stop_exit_s: number | null;
  /** CPU used by everything else on the machine during the idle window, % of one core: the noise. */
  others_cpu_pct: number;
}

export const CLK_TCK = 100;
export const serviceIds = (n: number) => Array.from({ length: n }, (_, i) => `s${String(i).padStart(4, '0')}`);
/** Busy jiffies of the whole machine (all cores), from the first line of /proc/stat. */
function machineBusy(): number {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] as string).trim().split(/\s+/).slice(1, 9).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as number[];
  return (user as number) + (nice as number) + (system as number) + (irq as number) + (softirq as number) + (steal as number);
}

/** The cleanup of the run in progress, for an interrupted bench (see run.ts). */
let active: (() => Promise<void>) | null = null;
export async function abortActive(): Promise<void> {
  await active?.();
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}
export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

interface Binaries {
  svc: string;
  spawnLoop: string;
}

/** A fresh workload folder and start log for one run. */
function workload(driver: Driver, n: number, bin: Binaries): { w: Workload; log: StartLog } {
  const dir = mkdtempSync(join(tmpdir(), `upkeep-peers-${driver.name}-`));
  const w: Workload = { n, ids: serviceIds(n), svc: bin.svc, spawnLoop: bin.spawnLoop, log: join(dir, 'starts.log'), dir };
  return { w, log: new StartLog(w.log) };
}

/** The last lines of the tool's own output files, to explain a failed run. */
function toolOutput(dir: string): string {
  const out: string[] = [];
  for (const f of readdirSync(dir).filter((f) => /\.(log|out)$/.test(f) && f !== 'starts.log')) {
    const lines = readFileSync(`${dir}/${f}`, 'utf8').trimEnd().split('\n').slice(-8);
    out.push(`--- ${f}`, ...lines);
  }
  return out.join('\n');
}

/** Kills everything of a run and removes its folder; waits until no service process is left. */
async function cleanUp(session: Session | null, w: Workload, log: StartLog): Promise<void> {
  const helpers = session?.supervisorPids() ?? [];
  await session?.kill().catch(() => undefined);
  killAll(helpers.filter(alive));
  for (let i = 0; i < 100; i++) {
    const left = [...new Set([...log.pids(), ...runningProgram(w.svc)])].filter(alive);
    if (left.length === 0) break;
    killAll(left);
    await sleep(50);
  }
  rmSync(w.dir, { recursive: true, force: true });
}

const startTimeoutMs = (n: number) => Math.max(120_000, n * 300);

/** Start N, wait for all, stop: primes caches and the page cache of the tool. Nothing is kept. */
export async function warmUp(driver: Driver, n: number, bin: Binaries): Promise<void> {
  const { w, log } = workload(driver, n, bin);
  let session: Session | null = null;
  active = () => cleanUp(session, w, log);
  try {
    session = await driver.start(w);
    await log.allStarted(w.ids, startTimeoutMs(n));
    await session.stop();
    await log.noneAlive(60_000);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message += `\n${toolOutput(w.dir)}`;
    throw e;
  } finally {
    active = null;
    await cleanUp(session, w, log);
  }
}

export async function measure(driver: Driver, n: number, bin: Binaries, o: Options): Promise<Row> {
  const { w, log } = workload(driver, n, bin);
  let session: Session | null = null;
  active = () => cleanUp(session, w, log);
  try {
    const t0 = now();
    session = await driver.start(w);
    const last = await log.allStarted(w.ids, startTimeoutMs(n));
    const start_s = round(msBetween(t0, last) / 1000, 3);
    o.say(`${driver.name} N=${n}: all started in ${start_s} s`);
    await sleep(1000);

    const pids = session.supervisorPids();
    const pss_mib = round(pids.reduce((sum, p) => sum + pssKiB(p), 0) / 1024, 1);

    const settleTicks0 = pids.reduce((sum, p) => sum + ticks(p), 0);
    const settle0 = now();
    await sleep(o.settleS * 1000);
    const settleSeconds = msBetween(settle0, now()) / 1000;
    const ticks0 = pids.reduce((sum, p) => sum + ticks(p), 0);
    const settle_cpu_pct = settleSeconds > 0 ? round(((ticks0 - settleTicks0) / CLK_TCK / settleSeconds) * 100, 2) : 0;
    const busy0 = machineBusy();
    const idle0 = now();
    await sleep(o.idleS * 1000);
    const idleTicks = pids.reduce((sum, p) => sum + ticks(p), 0) - ticks0;
    const idleSeconds = msBetween(idle0, now()) / 1000;
    const idle_cpu_pct = round((idleTicks / CLK_TCK / idleSeconds) * 100, 2);
    const others_cpu_pct = round(((machineBusy() - busy0 - idleTicks) / CLK_TCK / idleSeconds) * 100, 1);
    o.say(`${driver.name} N=${n}: PSS ${pss_mib} MiB over ${pids.length} processes, CPU ${settle_cpu_pct} % while settling ${o.settleS} s, idle CPU ${idle_cpu_pct} %`);

    const status_runs_ms: number[] = [];
    if (session.status) {
      for (let i = 0; i < o.statusRuns; i++) {
        const s = now();
        const code = await session.status();
        const ms = msBetween(s, now());
        if (code !== 0) throw new Error(`${driver.name}: status command exited ${code}`);
        status_runs_ms.push(round(ms, 1));
      }
    }

    const restart_samples_ms: number[] = [];
    let restart_missed = 0;
    if (driver.kind === 'supervisor') {
      const order = [...w.ids].sort(() => Math.random() - 0.5);
      for (let i = 0; i < o.samples; i++) {
        const id = order[i % order.length] as string;
        log.poll();
        // Every peer treats a death within about 1 s of a start as a crash loop and waits: pick services past that.
        for (let wait = 0; wait < 100 && now() - (log.latest.get(id)?.mono ?? 0n) < 1_500_000_000n; wait++) await sleep(50);
        const victim = log.latest.get(id);
        if (!victim) continue;
        const killedAt = now();
        process.kill(victim.pid, 'SIGKILL');
        const back = await log.startedAfter(id, killedAt, 15_000);
        if (back) restart_samples_ms.push(round(msBetween(killedAt, back.mono), 2));
        else restart_missed++;
        await sleep(100);
      }
      o.say(`${driver.name} N=${n}: restart p50 ${median(restart_samples_ms)} ms of ${restart_samples_ms.length}`);
    }
    const sorted = [...restart_samples_ms].sort((a, b) => a - b);

    const ownPids = session.supervisorPids();
    const stopAt = now();
    const asked = session.stop();
    const gone = await log.noneAlive(180_000);
    await Promise.race([asked, timeout(60_000)]);
    let exitedAt: bigint | null = null;
    for (let i = 0; i < 1000 && exitedAt === null; i++) {
      if (ownPids.every((p) => !alive(p))) exitedAt = now();
      else await sleep(10);
    }
    if (gone === null) throw new Error(`${driver.name}: services still running 180 s after the stop request`);
    const stop_s = round(msBetween(stopAt, gone) / 1000, 3);
    o.say(`${driver.name} N=${n}: stopped in ${stop_s} s`);

    return {
      tool: driver.name,
      n,
      date: new Date().toISOString(),
      start_s,
      pss_mib,
      processes: pids.length,
      settle_s: o.settleS,
      settle_cpu_pct,
      idle_s: o.idleS,
      idle_cpu_pct,
      status_ms: status_runs_ms.length ? median(status_runs_ms) : null,
      status_runs_ms,
      restart_p50_ms: sorted.length ? percentile(sorted, 50) : null,
      restart_p95_ms: sorted.length ? percentile(sorted, 95) : null,
      restart_samples_ms,
      restart_missed,
      stop_s,
      stop_exit_s: exitedAt === null ? null : round(msBetween(stopAt, exitedAt) / 1000, 3),
      others_cpu_pct,
    };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    e.message += `\n${toolOutput(w.dir)}`;
    throw e;
  } finally {
    active = null;
    await cleanUp(session, w, log);
  }
}
