/**
 * PM2, installed by the bench into bench/peers/.pm2-install (never globally), with its home in the
 * run's temp folder. One ecosystem file lists the N services (`interpreter: "none"`: the program
 * is exec'd directly, fork mode); `pm2 start` launches the God daemon and them. Fastest fair
 * settings: output to /dev/null; restart_delay 0 (the default). Stop is `pm2 kill` (stops every
 * app, then the daemon); status is `pm2 jlist`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, timeout, type Driver, type Workload } from '../driver.js';
import { alive, supervisorTree } from '../procs.js';
import { PM2_BIN, PM2_PREFIX } from '../paths.js';

export const pm2: Driver = {
  name: 'pm2',
  label: 'PM2',
  kind: 'supervisor',
  missing: () => (existsSync(PM2_BIN) ? null : `pm2 not installed in ${PM2_PREFIX}`),
  version: () => (JSON.parse(readFileSync(join(PM2_PREFIX, 'node_modules', 'pm2', 'package.json'), 'utf8')) as { version: string }).version,
  settings: [
    'ecosystem file: `interpreter: "none"`, `exec_mode: "fork"`, `autorestart: true`, `restart_delay: 0`, `out_file`/`error_file` = /dev/null, `vizion: false`; all else default',
    'default `min_uptime` 1 s and `max_restarts` 16: a service that dies sooner than 1 s after its start counts as unstable, and after 16 such restarts PM2 gives up (errored)',
    'the God daemon runs a worker every 30 s (memory/cron checks) and writes one pid file per app',
  ],
  commands: { status: '`pm2 jlist`', stop: '`pm2 kill`' },
  async start(w: Workload) {
    const home = join(w.dir, 'pm2home');
    const env = { ...process.env, PM2_HOME: home };
    const apps = w.ids.map((id) => ({
      name: id,
      script: w.svc,
      args: [id, w.log],
      interpreter: 'none',
      exec_mode: 'fork',
      autorestart: true,
      restart_delay: 0,
      out_file: '/dev/null',
      error_file: '/dev/null',
      vizion: false,
    }));
    const eco = join(w.dir, 'ecosystem.json');
    writeFileSync(eco, JSON.stringify({ apps }));
    const pm2Cli = (...args: string[]) => run(process.execPath, [PM2_BIN, ...args], { env });
    // The CLI returns once the daemon has accepted every app; the bench times the services' starts.
    const code = await pm2Cli('start', eco);
    if (code !== 0) throw new Error(`pm2 start exited ${code}`);
    const godPid = () => {
      try {
        return Number(readFileSync(join(home, 'pm2.pid'), 'utf8').trim());
      } catch {
        return 0;
      }
    };
    const god = godPid();
    return {
      supervisorPids: () => (god ? supervisorTree(god, w.svc) : []),
      status: () => pm2Cli('jlist'),
      async stop() {
        await pm2Cli('kill');
      },
      async kill() {
        if (god && alive(god)) {
          await Promise.race([pm2Cli('kill'), timeout(10_000)]);
          for (const p of supervisorTree(god, w.svc)) {
            try {
              process.kill(p, 'SIGKILL');
            } catch {
              /* gone */
            }
          }
        }
      },
    };
  },
};
