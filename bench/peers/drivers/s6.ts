/**
 * s6 (Debian `s6`): `s6-svscan` on a temp scan directory of N service directories, started by
 * the bench; one `s6-supervise` per service. `run` is a symlink to the service program, and each
 * service directory has `notification-fd` (3): the program writes a newline there once it has
 * recorded its start (s6's readiness protocol). Without it s6-supervise waits 1 s after every
 * death before it restarts; with it, a service ready for more than 1 s is restarted at once.
 * s6-svscan gets `-c N` (its default limit is 500 services). Stop is `s6-svscanctl -t` (every s6-supervise brings its service down and exits); status is
 * `s6-svstat` on each service directory, in one shell loop (s6 has no status-of-all command).
 */
import { daemon, killWithHelpers, run, scanDirectory, type Driver, type Workload } from '../driver.js';
import { supervisorTree } from '../procs.js';
import { debianVersion } from './debian.js';
import { which } from './which.js';

export const s6: Driver = {
  name: 's6',
  label: 's6',
  kind: 'supervisor',
  missing: () => (which('s6-svscan') && which('s6-svstat') && which('s6-svscanctl') ? null : 's6 not installed (Debian package `s6`)'),
  version: () => debianVersion('s6'),
  settings: [
    '`run` is a symlink to the service program; `notification-fd` = 3 and the program writes its readiness there; no `log/`, no `finish`',
    '`s6-svscan -c N`: by default s6-svscan supervises at most 500 service directories and ignores the rest ("too many services")',
    'default (no readiness notification): s6-supervise waits 1 s after every death before it starts `run` again',
    'with readiness: the next start is at once if the service was ready for at least 1 s, else at ready time + 1 s',
  ],
  commands: { status: '`for d in DIR/*; do s6-svstat "$d"; done` (one s6-svstat per service)', stop: '`s6-svscanctl -t DIR`' },
  async start(w: Workload) {
    const scan = scanDirectory(w, { 'notification-fd': '3\n' });
    const child = daemon(w.dir, 's6-svscan.out', 's6-svscan', ['-c', String(Math.max(500, w.n)), scan], { env: { ...process.env, PEER_SVC_LOG: w.log, PEER_SVC_NOTIFY_FD: '3' } });
    const pid = child.pid as number;
    return {
      supervisorPids: () => supervisorTree(pid, w.svc),
      status: () => run('/bin/sh', ['-c', 'for d in "$1"/*; do s6-svstat "$d" || exit 1; done', 'sh', scan]),
      async stop() {
        const code = await run('s6-svscanctl', ['-t', scan]);
        if (code !== 0) process.kill(pid, 'SIGTERM');
      },
      kill: () => killWithHelpers(child, supervisorTree(pid, w.svc)),
    };
  },
};
