/**
 * Exec health check. Owns one check process per probe: the command (an array, no shell) runs with
 * the service's environment, directory and user, stdin closed, in its own process group; exit 0
 * is healthy. Invariants: at the timeout the whole group is SIGKILLed, and after any exit whatever
 * the check left in its group goes too, so checks never pile up; at most 4 KiB per stream is kept
 * (the tail: the last line usually says what went wrong).
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ProbeContext } from './probe.js';

const MAX_OUTPUT = 4096;
/** How long after the exit to wait for the last output still in the pipes (a grandchild may hold them). */
const DRAIN_MS = 100;
/** After the timeout's SIGKILL, how long to wait for the exit before reporting anyway. */
const KILL_GRACE_MS = 200;

export function execProbe(command: string[], ctx: ProbeContext, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const [program, ...args] = command;
  if (program === undefined || program === '') return Promise.resolve({ ok: false, output: 'empty exec command' });
  return new Promise((resolve) => {
    const tails = { out: '', err: '' };
    let settled = false;
    let timedOut: (() => void) | undefined; // set at the timeout: reports it
    const child = spawn(program, args, {
      cwd: ctx.directory,
      env: ctx.env,
      uid: ctx.uid,
      gid: ctx.gid,
      detached: true, // own process group (setsid): one kill reaches everything the check started
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (stream: Readable | null, key: 'out' | 'err') => {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const text = tails[key] + chunk;
        tails[key] = text.length > MAX_OUTPUT ? text.slice(-MAX_OUTPUT) : text;
      });
    };
    collect(child.stdout, 'out');
    collect(child.stderr, 'err');
    const finish = (ok: boolean, text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(drain);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({ ok, output: text });
    };
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already empty, which is the goal.
      }
    };
    let drain: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      const report = () => finish(false, `timed out after ${timeoutMs}ms${suffix(lastLine(tails))}`);
      timedOut = report;
      killGroup();
      // Normally resolve once the check is reaped, so no zombie outlives the probe; but a process
      // stuck in the kernel (D state) may take long to die, and the probe must not wait for it.
      drain = setTimeout(report, KILL_GRACE_MS);
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => finish(false, `cannot run ${program}: ${err.code ?? err.message}`));
    child.once('exit', (code, signal) => {
      killGroup();
      if (timedOut !== undefined) return timedOut();
      clearTimeout(timer); // it exited in time: the drain below must not turn into a timeout
      const report = () => {
        const last = lastLine(tails);
        if (code === 0) finish(true, last || 'exit code 0');
        else finish(false, `${signal === null ? `exit code ${code}` : `killed by ${signal}`}${suffix(last)}`);
      };
      // 'exit' can come before the last output is read; 'close' comes once the pipes are drained.
      child.once('close', report);
      drain = setTimeout(report, DRAIN_MS);
    });
  });
}

/** The last non-empty line of stderr, else of stdout. */
function lastLine(tails: { out: string; err: string }): string {
  for (const text of [tails.err, tails.out]) {
    const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    if (lines.length > 0) return lines[lines.length - 1] as string;
  }
  return '';
}

function suffix(text: string): string {
  return text === '' ? '' : `: ${text}`;
}
