/**
 * upkeep itself: `upkeep daemon` on a folder of N service files (all defaults but one: the
 * backoff resets after 1 s up, the same one-second rule runit, s6, PM2 and supervisord apply, so
 * that a restart after a longer run is immediate, as it is for them). Stop is SIGTERM to the
 * daemon, which stops every service before it exits; status is `upkeep status --json` as a user
 * runs it: bin/upkeep, the sh wrapper that runs the native client (native/client).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemon, exited, killGroup, run, type Driver, type Workload } from '../driver.js';
import { supervisorTree } from '../procs.js';
import { ROOT } from '../paths.js';

const BIN = join(ROOT, 'bin', 'upkeep.js');
/** What users run: the native client for `status`, the Node CLI for the rest. */
const UPKEEP = join(ROOT, 'bin', 'upkeep');

export const upkeep: Driver = {
  name: 'upkeep',
  label: 'upkeep',
  kind: 'supervisor',
  missing: () => (existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js')) ? null : 'not built (run npx tsc -p tsconfig.json)'),
  version() {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    let commit = '';
    try {
      commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      /* not a checkout */
    }
    return commit ? `${pkg.version} (${commit})` : pkg.version;
  },
  settings: [
    'one service file per service: `command = [SVC, ID, LOG]`, `backoff = { reset_after = "1s" }`; everything else default',
    'default `backoff.reset_after` is 10 s: a service that ran shorter waits `backoff.initial` (100 ms, doubling) before its restart',
    'stdout/stderr of every service are captured into per-service log files (cannot be turned off); every service gets an sd_notify socket',
  ],
  commands: { status: '`upkeep status --json` (native client)', stop: 'SIGTERM to the daemon' },
  async start(w: Workload) {
    const config = join(w.dir, 'services');
    mkdirSync(config);
    for (const id of w.ids) {
      writeFileSync(join(config, `${id}.toml`), `command = ${JSON.stringify([w.svc, id, w.log])}\nbackoff = { reset_after = "1s" }\n`);
    }
    const socket = join(w.dir, 'upkeep.sock');
    const child = daemon(w.dir, 'daemon.log', process.execPath, [BIN, 'daemon', '--config', config, '--state', join(w.dir, 'state'), '--socket', socket]);
    const pid = child.pid as number;
    return {
      supervisorPids: () => supervisorTree(pid, w.svc),
      status: () => run(UPKEEP, ['status', '--json', '--socket', socket]),
      async stop() {
        process.kill(pid, 'SIGTERM');
      },
      async kill() {
        if (!(await exited(child, 100))) killGroup(child);
      },
    };
  },
};
