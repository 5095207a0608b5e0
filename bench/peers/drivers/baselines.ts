/**
 * The two baselines, run through the same measurements as the supervisors: a C program that
 * posix_spawns N services in a loop (the physical limit of this machine) and a Node process that
 * calls child_process.spawn N times (the floor for any supervisor written in Node). Neither
 * restarts anything or has a status command. "Stop" is a line on their stdin: they SIGTERM every
 * child and exit once all have exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { exited, killGroup, type Driver, type Session, type Workload } from '../driver.js';
import { supervisorTree } from '../procs.js';
import { which } from './which.js';

const NODE_LOOP = join(dirname(fileURLToPath(import.meta.url)), '..', 'node-spawn-loop.js');

function loopSession(child: ChildProcess, w: Workload): Session {
  const pid = child.pid as number;
  return {
    supervisorPids: () => supervisorTree(pid, w.svc),
    async stop() {
      child.stdin?.end('stop\n');
    },
    async kill() {
      if (!(await exited(child, 100))) killGroup(child);
    },
  };
}

/** Starts a loop program with a pipe on stdin (the stop line) and its output ignored. */
function startLoop(command: string, args: string[]): ChildProcess {
  return spawn(command, args, { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
}

export const cSpawn: Driver = {
  name: 'c-spawn',
  label: 'C posix_spawn loop (physical limit)',
  kind: 'baseline',
  missing: () => (which('cc') ? null : 'no C compiler (cc)'),
  version: () => execFileSync('cc', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? 'cc',
  settings: ['`posix_spawn` of the service N times in a loop from a small C program; stop: SIGTERM to each child, then `waitpid` each'],
  commands: { status: '—', stop: 'SIGTERM to every child from the loop program' },
  async start(w: Workload) {
    return loopSession(startLoop(w.spawnLoop, [w.svc, w.log, String(w.n)]), w);
  },
};

export const nodeSpawn: Driver = {
  name: 'node-spawn',
  label: `Node ${process.version} spawn loop (Node floor)`,
  kind: 'baseline',
  missing: () => (existsSync(NODE_LOOP) ? null : `${NODE_LOOP} not built`),
  version: () => process.version,
  settings: ['`child_process.spawn(svc, [id, log], { detached: true, stdio: "ignore" })` N times in a loop; stop: `kill()` each, wait for every `exit`'],
  commands: { status: '—', stop: '`child.kill()` of every child, wait for every exit' },
  async start(w: Workload) {
    return loopSession(startLoop(process.execPath, [NODE_LOOP, w.svc, w.log, String(w.n)]), w);
  },
};
