/**
 * supervisord (Debian `supervisor`): one [program:x] section per service in one config file,
 * `supervisord -n` in the foreground. Fastest fair settings: output discarded (`stdout_logfile =
 * NONE`, as runit and s6 have no logger here), enough file descriptors for N services; the rest
 * default. Stop is SIGTERM to supervisord (it stops every program, then exits); status is
 * `supervisorctl status` over its unix socket.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemon, exited, killGroup, run, type Driver, type Workload } from '../driver.js';
import { supervisorTree } from '../procs.js';
import { which } from './which.js';

export const supervisord: Driver = {
  name: 'supervisord',
  label: 'supervisord',
  kind: 'supervisor',
  missing: () => (which('supervisord') && which('supervisorctl') ? null : 'supervisord not installed (Debian package `supervisor`)'),
  version: () => execFileSync('supervisord', ['--version'], { encoding: 'utf8' }).trim(),
  settings: [
    '`autostart = true`, `autorestart = true`, `stdout_logfile = NONE`, `stderr_logfile = NONE`, `minfds` raised to 4N+256; all else default',
    'default `startsecs = 1`: a program counts as RUNNING (and its restart as immediate, without `startretries` backoff) only after 1 s up',
    'the main loop polls with a 1 s timeout and reaps children there: a restart waits for the next wake-up (up to 1 s)',
    'default `stdout_logfile = AUTO` would add two log files per program',
  ],
  commands: { status: '`supervisorctl status`', stop: 'SIGTERM to supervisord' },
  async start(w: Workload) {
    const conf = join(w.dir, 'supervisord.conf');
    const sock = join(w.dir, 'supervisor.sock');
    const lines = [
      '[unix_http_server]',
      `file = ${sock}`,
      '[rpcinterface:supervisor]',
      'supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface',
      '[supervisorctl]',
      `serverurl = unix://${sock}`,
      '[supervisord]',
      `logfile = ${join(w.dir, 'supervisord.log')}`,
      `pidfile = ${join(w.dir, 'supervisord.pid')}`,
      `childlogdir = ${w.dir}`,
      'loglevel = warn',
      `minfds = ${4 * w.n + 256}`,
      `minprocs = ${w.n + 200}`,
      '',
    ];
    for (const id of w.ids) {
      lines.push(`[program:${id}]`, `command = ${w.svc} ${id} ${w.log}`, 'autostart = true', 'autorestart = true', 'stdout_logfile = NONE', 'stderr_logfile = NONE', '');
    }
    writeFileSync(conf, lines.join('\n'));
    const child = daemon(w.dir, 'supervisord.out', 'supervisord', ['-n', '-c', conf]);
    const pid = child.pid as number;
    return {
      supervisorPids: () => supervisorTree(pid, w.svc),
      status: () => run('supervisorctl', ['-c', conf, 'status']),
      async stop() {
        process.kill(pid, 'SIGTERM');
      },
      async kill() {
        if (!(await exited(child, 100))) killGroup(child);
      },
    };
  },
};
