/**
 * The contract every contestant of the peer bench implements, supervisors and baselines alike,
 * and the few process helpers the drivers share. A driver knows how to lay out N services for its
 * tool, start the tool, name the tool's own processes, run its "status of everything" command and
 * ask it to stop everything. It measures nothing: measure.ts does that the same way for all.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Workload {
  n: number;
  /** Service names, s0000 … */
  ids: string[];
  /** The service program (svc.c, built for this run). */
  svc: string;
  /** The C baseline (spawn-loop.c, built for this run). */
  spawnLoop: string;
  /** The file every service appends its start to. */
  log: string;
  /** A fresh temp folder of this tool's run; removed by the bench afterwards. */
  dir: string;
}

export interface Session {
  /** The tool's own processes right now: its daemon and any per-service helper, no services. */
  supervisorPids(): number[];
  /** Runs the tool's own "status of everything" command once; resolves to its exit code. */
  status?(): Promise<number>;
  /** Asks the tool to stop everything; resolves once asked (the bench watches the services go). */
  stop(): Promise<void>;
  /** Kills whatever of this session is still alive (the bench also kills leftover services). */
  kill(): Promise<void>;
}

export interface Driver {
  /** Key used on the command line and in the JSON (upkeep, supervisord, runit, s6, pm2, c-spawn, node-spawn). */
  name: string;
  label: string;
  kind: 'supervisor' | 'baseline';
  /** Null when the tool can run here, else why not (shown as the skip line). */
  missing(): string | null;
  version(): string;
  /** The settings this bench uses and the tool's defaults that shape a figure. */
  settings: string[];
  /** What "status" and "stop all" mean for this tool, for the report. */
  commands: { status: string; stop: string };
  start(w: Workload): Promise<Session>;
}

/** A long-running child in its own process group, stdout and stderr to a file in `dir`. */
export function daemon(dir: string, logName: string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const out = openSync(join(dir, logName), 'a');
  try {
    return spawn(command, args, { detached: true, stdio: ['ignore', out, out], ...options });
  } finally {
    closeSync(out);
  }
}

/** Runs a command to its end; output goes to /dev/null unless a file is named. Resolves to the exit code. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolveCode, reject) => {
    const child = spawn(command, args, { stdio: 'ignore', ...options });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolveCode(code ?? (signal ? 128 : 1)));
  });
}

/** A delay that does not keep the process alive: for the losing side of a race. */
export function timeout(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Waits until a child exits or `ms` pass; true if it exited. */
export function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return Promise.race([new Promise<boolean>((r) => child.once('exit', () => r(true))), timeout(ms).then(() => false)]);
}

/** SIGKILL to a child's whole process group (it was started detached), ignoring a group already gone. */
export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/**
 * The scan directory runit and s6 both read: one directory per service whose `run` is a symlink
 * to the service program (no shell in between), plus any extra files (s6's `notification-fd`).
 */
export function scanDirectory(w: Workload, extraFiles: Record<string, string> = {}): string {
  const scan = join(w.dir, 'service');
  mkdirSync(scan);
  for (const id of w.ids) {
    mkdirSync(join(scan, id));
    symlinkSync(w.svc, join(scan, id, 'run'));
    for (const [name, text] of Object.entries(extraFiles)) writeFileSync(join(scan, id, name), text);
  }
  return scan;
}

/** Kills a scanner daemon (runsvdir, s6-svscan) and the per-service supervisors it started. */
export async function killWithHelpers(child: ChildProcess, helpers: number[]): Promise<void> {
  if (!(await exited(child, 100))) killGroup(child);
  for (const p of helpers) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
