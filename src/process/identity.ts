/**
 * Process identity from /proc (Linux), for crash recovery: a process left by a previous daemon is
 * recognised by its recorded pid AND start time (field 22 of /proc/PID/stat, clock ticks since
 * boot), never by name, because pids are reused. Start times only compare within one boot: record
 * bootId() next to them.
 * Invariants:
 * - "Does not exist" is `undefined`/`false`; only unexpected errors (not ENOENT/ESRCH) are thrown,
 *   so a read failure is never mistaken for a dead process.
 * - Zombies count as gone for group liveness: they hold no resources, and PID 1 here may be slow
 *   to reap orphans, so waiting for them to vanish could wait forever.
 */
import * as fs from 'node:fs';
import { UpkeepError } from '../errors.js';

export interface ProcStat {
  pid: number;
  comm: string;
  /** One letter: R, S, D, Z, T, t, X, I … */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks after boot at which the process started. */
  startTime: number;
}

/**
 * Parses one /proc/PID/stat line. comm (field 2) is in parentheses and may itself contain spaces
 * and ')', so the fixed-format fields are taken after the LAST ')'. undefined if malformed.
 */
export function parseStatLine(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 1 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const state = rest[0];
  const ppid = Number(rest[4 - 3]);
  const pgrp = Number(rest[5 - 3]);
  const startTime = Number(rest[22 - 3]);
  if (state === undefined || !/^[A-Za-z]$/.test(state)) return undefined;
  for (const n of [pid, ppid, pgrp, startTime]) if (!Number.isSafeInteger(n) || n < 0) return undefined;
  return { pid, comm, state, ppid, pgrp, startTime };
}

/** The parsed /proc/PID/stat, or undefined if there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  checkPid(pid, 'pid');
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if (isGone(err)) return undefined;
    throw err;
  }
  return parseStatLine(text);
}

/** Field 22 (starttime) of /proc/PID/stat, or undefined if there is no such process. */
export function readStartTime(pid: number): number | undefined {
  return readProcStat(pid)?.startTime;
}

/** This boot's id; start times from another boot mean nothing. */
export function bootId(): string {
  return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
}

/**
 * Whether `pid` is still the process that had `startTime` (same boot assumed). This is identity,
 * not liveness: an unreaped zombie of that process still matches; check readProcStat().state.
 */
export function isSameProcess(pid: number, startTime: number): boolean {
  return readStartTime(pid) === startTime;
}

/** Pids of the non-zombie processes in process group `pgid`, by a scan of /proc. */
export function groupMembers(pgid: number): number[] {
  checkPid(pgid, 'pgid');
  const members: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    let stat: ProcStat | undefined;
    try {
      stat = readProcStat(Number(name));
    } catch {
      continue; // vanished or unreadable mid-scan: a race, not an answer about this group
    }
    if (stat !== undefined && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') {
      members.push(stat.pid);
    }
  }
  return members;
}

/** Whether process group `pgid` has a live (non-zombie) member. */
export function groupAlive(pgid: number): boolean {
  checkPid(pgid, 'pgid');
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    // EPERM: the group exists but belongs to someone else; still alive, so confirm below.
    if (code !== 'EPERM') throw err;
  }
  // kill(-pgid, 0) succeeds for a group of zombies too; those count as gone.
  return groupMembers(pgid).length > 0;
}

/**
 * Guards the signal paths: kill(-0) means our own group and kill(-1) every process we may signal,
 * so a pgid of 0 or 1 (or a bad number from a corrupt record) must never reach process.kill.
 */
function checkPid(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 1 || (what === 'pgid' && value < 2)) {
    throw new UpkeepError('invalid-argument', `expected \`${what}\` to be an integer >= ${what === 'pgid' ? 2 : 1}, got \`${value}\``);
  }
}

function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  // ESRCH: the process exited between open and read of its stat file.
  return code === 'ENOENT' || code === 'ESRCH';
}
