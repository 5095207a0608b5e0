/**
 * The tenants' start storm for `npm run bench`: T tenants (real users made with newusers, removed
 * at the end) with K services each, plus the daemon's own services up to N in all, from daemon
 * start to all running. Reports the time, its ratio to the plain N-service start of the same run,
 * fairness (when the last tenant's first service started, as a share of the storm, next to the
 * share a perfectly fair order of equal starts gives: tenants / N) and daemon PSS. Nothing is
 * asserted; figures are printed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call } from '../src/api/client.js';
import { sleep, type Event, type Status } from './util.js';

export interface TenantStorm {
  startS: number;
  lastTenantFirstStartS: number;
  lastTenantFirstShare: number;
  fairShare: number;
  pssMib: number;
}

export async function tenantStorm(bin: string, n: number, tenants: number, perTenant: number): Promise<TenantStorm> {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-bench-tenants-'));
  chmodSync(dir, 0o711);
  const homes = join(dir, 'home');
  mkdirSync(homes, { mode: 0o755 });
  const tag = randomBytes(3).toString('hex');
  const users = Array.from({ length: tenants }, (_, t) => `upk-b${tag}-${String(t).padStart(3, '0')}`);
  const made = spawnSync('newusers', [], { input: users.map((u) => `${u}:!::::${join(homes, u)}:/bin/sh\n`).join(''), encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`newusers failed: ${made.stderr}`);
  const config = join(dir, 'services');
  mkdirSync(config);
  const socketPath = join(dir, 'upkeep.sock');
  const seen = new Set<number>();
  let pid = 0;
  try {
    for (const user of users) {
      const [uid, gid] = ['-u', '-g'].map((f) => Number(spawnSync('id', [f, user], { encoding: 'utf8' }).stdout.trim())) as [number, number];
      const services = join(homes, user, '.config', 'upkeep', 'services');
      mkdirSync(services, { recursive: true, mode: 0o755 });
      for (const d of [join(homes, user), join(homes, user, '.config'), join(homes, user, '.config', 'upkeep'), services]) chownSync(d, uid, gid);
      for (let i = 0; i < perTenant; i++) {
        const file = join(services, `s${i}.toml`);
        writeFileSync(file, 'command = ["sleep", "1000000"]\n');
        chownSync(file, uid, gid);
      }
    }
    const own = n - tenants * perTenant;
    for (let i = 0; i < own; i++) writeFileSync(join(config, `own${String(i).padStart(4, '0')}.toml`), 'command = ["sleep", "1000000"]\n');
    writeFileSync(join(dir, 'daemon.toml'), `tenants = "${homes}/*/.config/upkeep/services"\n`);

    const t0 = Date.now();
    const daemon = spawn(
      process.execPath,
      [bin, 'daemon', '--config', config, '--state', join(dir, 'state'), '--socket', socketPath, '--daemon-config', join(dir, 'daemon.toml')],
      { detached: true, stdio: ['ignore', 'ignore', openSync(join(dir, 'daemon.log'), 'w')] },
    );
    pid = daemon.pid as number;
    for (;;) {
      try {
        const list = ((await call({ cmd: 'status' }, { socketPath })) as { services: Status[] }).services;
        for (const s of list) if (s.pid !== null) seen.add(s.pid);
        if (list.length === n && list.every((s) => s.state === 'running')) break;
      } catch {
        /* not up yet */
      }
      await sleep(200);
    }
    const events = ((await call({ cmd: 'events', limit: 10 * n }, { socketPath })) as { events: Event[] }).events;
    const lastRunning = Math.max(...events.filter((e) => e.to === 'running').map((e) => e.time));
    const firstStart = new Map<string, number>();
    for (const e of events) {
      if (e.to !== 'starting' || !e.service.includes('/')) continue;
      const tenant = e.service.split('/')[0]!;
      if (!firstStart.has(tenant)) firstStart.set(tenant, e.time);
    }
    const lastFirst = Math.max(...firstStart.values());
    // The storm is from the first start to the last service running (the daemon's own start-up,
    // reading 300 folders, comes before it and is in startS).
    const stormStart = Math.min(...events.filter((e) => e.to === 'starting').map((e) => e.time));
    await sleep(1000);
    const pss = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    return {
      startS: (lastRunning - t0) / 1000,
      lastTenantFirstStartS: (lastFirst - stormStart) / 1000,
      lastTenantFirstShare: (lastFirst - stormStart) / (lastRunning - stormStart),
      fairShare: (tenants + 1) / n,
      pssMib: pss / 1024,
    };
  } finally {
    for (const p of [pid, ...seen]) {
      try {
        if (p > 0) process.kill(-p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const u of users) spawnSync('userdel', [u]);
    rmSync(dir, { recursive: true, force: true });
  }
}
