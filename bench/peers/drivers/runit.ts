/**
 * runit (Debian `runit`, installed without runit-init: nothing replaces the machine's init):
 * `runsvdir` on a temp scan directory of N service directories, started by the bench. Each
 * `run` is a symlink to the service program (no shell in between; the program takes its name
 * from the directory and its log path from the environment runsvdir passes down). One `runsv`
 * per service. Stop is SIGHUP to runsvdir (it sends TERM to every runsv, which stops its service
 * and exits); status is one `sv status` naming every service directory.
 */
import { join } from 'node:path';
import { daemon, killWithHelpers, run, scanDirectory, type Driver, type Workload } from '../driver.js';
import { supervisorTree } from '../procs.js';
import { debianVersion } from './debian.js';
import { which } from './which.js';

export const runit: Driver = {
  name: 'runit',
  label: 'runit',
  kind: 'supervisor',
  missing: () => (which('runsvdir') && which('sv') ? null : 'runit not installed (Debian package `runit`)'),
  version: () => debianVersion('runit'),
  settings: [
    '`run` is a symlink to the service program; no `log/` service, no `finish`; runsvdir started by hand on a temp directory',
    'runsv restarts at once, but never sooner than 1 s after the previous start of the same service',
    'runsvdir rescans its directory every 5 s and supervises at most 1000 services by default',
  ],
  commands: { status: '`sv status DIR/*` (one command, N arguments)', stop: 'SIGHUP to runsvdir' },
  async start(w: Workload) {
    const scan = scanDirectory(w);
    const child = daemon(w.dir, 'runsvdir.out', 'runsvdir', [scan], { env: { ...process.env, PEER_SVC_LOG: w.log } });
    const pid = child.pid as number;
    const dirs = w.ids.map((id) => join(scan, id));
    return {
      supervisorPids: () => supervisorTree(pid, w.svc),
      status: () => run('sv', ['status', ...dirs]),
      async stop() {
        process.kill(pid, 'SIGHUP');
      },
      kill: () => killWithHelpers(child, supervisorTree(pid, w.svc)),
    };
  },
};
