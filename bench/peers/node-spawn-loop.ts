/**
 * The Node floor of the peer bench: N `child_process.spawn` calls in a loop (detached, stdio
 * ignored), from a Node process that does nothing else. The same protocol as spawn-loop.c:
 *
 *   node node-spawn-loop.js SVC LOG N
 *
 * prints "spawned" after the last spawn, then any line on stdin (or EOF) sends SIGTERM to every
 * child; it exits once all of them have exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const [svc, log, count] = process.argv.slice(2);
if (!svc || !log || !count) {
  console.error('usage: node node-spawn-loop.js SVC LOG N');
  process.exit(100);
}
const children: ChildProcess[] = [];
for (let i = 0; i < Number(count); i++) {
  children.push(spawn(svc, [`s${String(i).padStart(4, '0')}`, log], { detached: true, stdio: 'ignore' }));
}
process.stdout.write('spawned\n');
let stopping = false;
const stopAll = () => {
  if (stopping) return;
  stopping = true;
  let left = children.length;
  if (left === 0) process.exit(0);
  for (const c of children) {
    c.once('exit', () => {
      if (--left === 0) process.exit(0);
    });
    c.kill('SIGTERM');
  }
};
process.stdin.on('data', stopAll);
process.stdin.on('end', stopAll);
