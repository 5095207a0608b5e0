/**
 * Liveness figures for `npm run bench`: time from a SIGSTOP to the restart of a service with
 * `watchdog = "1s"` (the service pings every 0.5 s through sd_notify), and daemon CPU with N
 * services each probed over tcp every 10 s. Nothing is asserted; figures are printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../src/api/client.js';
import { cpuTicks, sleep, type Event, type Status } from './util.js';



/** A daemon on a fresh folder of service files; `kill()` stops it and every service it showed. */
async function daemonWith(bin: string, files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-bench-'));
  const config = join(dir, 'services');
  mkdirSync(config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(config, name), text);
  const socketPath = join(dir, 'upkeep.sock');
  const child: ChildProcess = spawn(process.execPath, [bin, 'daemon', '--config', config, '--state', join(dir, 'state'), '--socket', socketPath], {
    detached: true,
    stdio: ['ignore', 'ignore', openSync(join(dir, 'daemon.log'), 'w')],
  });
  const seen = new Set<number>();
  const status = async () => {
    const list = ((await call({ cmd: 'status' }, { socketPath })) as { services: Status[] }).services;
    for (const s of list) if (s.pid !== null) seen.add(s.pid);
    return list;
  };
  const allRunning = async (n: number) => {
    for (;;) {
      try {
        const list = await status();
        if (list.length === n && list.every((s) => s.state === 'running')) return list;
      } catch {
        /* not up yet */
      }
      await sleep(100);
    }
  };
  const kill = async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    for (const pid of [child.pid as number, ...seen]) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { socketPath, pid: child.pid as number, status, allRunning, kill };
}

/**
 * SIGSTOP → the hung process is killed and a new one spawned (and, separately, until the new one
 * says READY=1, which adds python's start-up); medians of `samples`.
 */
export async function watchdogRestart(
  bin: string,
  fixture: string,
  samples: number,
): Promise<{ p50: number; max: number; readyP50: number }> {
  const d = await daemonWith(bin, {
    'dog.toml': `command = ["python3", "${fixture}"]\nready = "notify"\nwatchdog = "1s"\nbackoff = { reset_after = "1s" }\n`,
  });
  const times: number[] = [];
  const ready: number[] = [];
  try {
    for (let i = 0; i < samples; i++) {
      const [dog] = await d.allRunning(1);
      await sleep(1500); // past reset_after: the restart after the kill is immediate
      const stoppedAt = Date.now();
      process.kill((dog as Status).pid as number, 'SIGSTOP');
      for (;;) {
        const events = ((await call({ cmd: 'events', name: 'dog', limit: 5 }, { socketPath: d.socketPath })) as { events: Event[] }).events;
        const respawned = events.find((e) => e.to === 'starting' && e.time > stoppedAt);
        const back = events.find((e) => e.to === 'running' && e.time > stoppedAt);
        if (respawned !== undefined && back !== undefined) {
          times.push(respawned.time - stoppedAt);
          ready.push(back.time - stoppedAt);
          break;
        }
        await sleep(20);
      }
    }
  } finally {
    await d.kill();
  }
  times.sort((a, b) => a - b);
  ready.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)] as number, max: times.at(-1) as number, readyP50: ready[Math.floor(ready.length / 2)] as number };
}

/** Daemon CPU (% of one core) over `seconds` with n services probed over tcp every 10 s. */
export async function probeCpu(bin: string, n: number, seconds: number): Promise<{ cpuPct: number; probes: number }> {
  let probes = 0;
  const server = net.createServer((c) => {
    probes++;
    c.on('error', () => undefined).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    files[`p${String(i).padStart(4, '0')}.toml`] = `command = ["sleep", "1000000"]\n[health]\ntcp = "127.0.0.1:${port}"\ninterval = "10s"\n`;
  }
  const d = await daemonWith(bin, files);
  try {
    await d.allRunning(n);
    await sleep(11_000); // every service has had its first (randomly placed) probe
    probes = 0;
    const t0 = cpuTicks(d.pid);
    await sleep(seconds * 1000);
    const cpuPct = ((cpuTicks(d.pid) - t0) / 100 / seconds) * 100;
    return { cpuPct: Number(cpuPct.toFixed(2)), probes };
  } finally {
    await d.kill();
    server.close();
  }
}

