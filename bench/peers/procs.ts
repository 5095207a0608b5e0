/**
 * What the peer bench reads from /proc: memory (PSS), CPU ticks, process trees, liveness and
 * executable paths. Every reader tolerates a process that vanished in between (ENOENT), because
 * supervisors and services come and go while the bench looks at them.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpuTicks } from '../util.js';

/** Proportional set size of a process in KiB (shared pages divided among their users), 0 if gone. */
export function pssKiB(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** utime + stime in clock ticks, 0 if the process is gone. */
export function ticks(pid: number): number {
  try {
    return cpuTicks(pid);
  } catch {
    return 0;
  }
}

/** Fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...], or null. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Running or sleeping: a zombie has already died, only its parent has not reaped it yet. */
export function alive(pid: number): boolean {
  const f = statFields(pid);
  return f !== null && f[0] !== 'Z' && f[0] !== 'X';
}

/** The program a process runs (symlinks resolved by the kernel), or null if it is gone. */
export function exe(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/** Every pid in /proc. */
export function allPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 0) out.push(pid);
  }
  return out;
}

/** `root` and all its living descendants, found through the ppid of every process. */
export function tree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (!f || f[0] === 'Z') continue;
    const ppid = Number(f[1]);
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  if (!alive(root)) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i] as number) ?? []));
  return out;
}

/** Living processes running `program` (a path unique to one bench run), wherever they are. */
export function runningProgram(program: string): number[] {
  return allPids().filter((pid) => exe(pid) === program && alive(pid));
}

/** SIGKILL each pid that still runs; errors (already gone) are ignored. */
export function killAll(pids: Iterable<number>, signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** A supervisor's own processes: `root` and its descendants, minus those running the service program. */
export function supervisorTree(root: number, svc: string): number[] {
  return tree(root).filter((pid) => pid === root || exe(pid) !== svc);
}
