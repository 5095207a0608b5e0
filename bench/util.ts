/** What the bench scripts share: reply shapes they read, sleeping, and a process's CPU ticks. */
import { readFileSync } from 'node:fs';

export interface Status {
  name: string;
  state: string;
  pid: number | null;
}

export interface Event {
  time: number;
  service: string;
  to: string;
  cause?: { kind: string };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}
