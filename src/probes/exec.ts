/**
 * Exec health check: the command runs as the service would (its environment, directory and
 * user), in its own process group; exit 0 is healthy. At the timeout the whole group is killed,
 * so a hanging check never piles up.
 */
import { spawn } from 'node:child_process';
import type { ProbeContext } from './probe.js';

const MAX_OUTPUT = 4096;

export function execProbe(command: string[], ctx: ProbeContext, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const [program, ...args] = command;
    let output = '';
    let settled = false;
    const child = spawn(program as string, args, {
      cwd: ctx.directory,
      env: ctx.env,
      uid: ctx.uid,
      gid: ctx.gid,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      if (output.length < MAX_OUTPUT) output += chunk.toString('utf8');
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const finish = (ok: boolean, text: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ok, output: text });
    };
    const timer = setTimeout(() => {
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* already gone */
      }
      finish(false, `timed out after ${timeoutMs}ms`);
    }, timeoutMs);
    child.once('error', (err: NodeJS.ErrnoException) => finish(false, `${program}: ${err.code ?? err.message}`));
    child.once('exit', (code, signal) => {
      // Whatever the check left behind in its group goes with it.
      try {
        process.kill(-(child.pid as number), 'SIGKILL');
      } catch {
        /* nothing left */
      }
      const last = output.trim().split('\n').slice(-3).join(' ');
      if (code === 0) finish(true, last || 'exit code 0');
      else finish(false, `${signal === null ? `exit code ${code}` : `killed by ${signal}`}${last ? `: ${last}` : ''}`);
    });
  });
}
