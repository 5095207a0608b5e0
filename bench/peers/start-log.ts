/**
 * The services' own record of their starts: one file all of them append to, one line per start,
 * "ID PID MONOTONIC_NS REALTIME_NS" (see svc.c). This module reads it incrementally and answers
 * the bench's questions: have all N started, when did the last of them, which pid runs a service
 * now, when did a service start again after a given instant. Times are CLOCK_MONOTONIC in ns, the
 * clock `process.hrtime.bigint()` reads, so they subtract directly from the bench's own readings.
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { alive } from './procs.js';
import { sleep } from '../util.js';

export interface Start {
  id: string;
  pid: number;
  /** CLOCK_MONOTONIC, ns. */
  mono: bigint;
}

export const now = () => process.hrtime.bigint();
export const msBetween = (from: bigint, to: bigint) => Number(to - from) / 1e6;

export class StartLog {
  private offset = 0;
  private partial = '';
  /** Every start in order of the file. */
  readonly starts: Start[] = [];
  /** The latest start of each service. */
  readonly latest = new Map<string, Start>();
  /** The first start of each service. */
  readonly first = new Map<string, Start>();

  constructor(readonly path: string) {
    writeFileSync(path, '');
  }

  /** Reads what was appended since the last call. */
  poll(): void {
    const fd = openSync(this.path, 'r');
    try {
      const buf = Buffer.alloc(1 << 16);
      for (;;) {
        const got = readSync(fd, buf, 0, buf.length, this.offset);
        if (got === 0) break;
        this.offset += got;
        const text = this.partial + buf.toString('utf8', 0, got);
        const lines = text.split('\n');
        this.partial = lines.pop() as string;
        for (const line of lines) this.add(line);
      }
    } finally {
      closeSync(fd);
    }
  }

  private add(line: string): void {
    const [id, pid, mono] = line.split(' ');
    if (!id || !pid || !mono) return;
    const start: Start = { id, pid: Number(pid), mono: BigInt(mono) };
    this.starts.push(start);
    this.latest.set(id, start);
    if (!this.first.has(id)) this.first.set(id, start);
  }

  /** Waits until every id has started at least once; returns the monotonic time of the last first start. */
  async allStarted(ids: readonly string[], timeoutMs: number, everyMs = 50): Promise<bigint> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      if (ids.every((id) => this.first.has(id))) {
        return ids.reduce((max, id) => {
          const t = (this.first.get(id) as Start).mono;
          return t > max ? t : max;
        }, 0n);
      }
      if (Date.now() > deadline) {
        throw new Error(`only ${ids.filter((id) => this.first.has(id)).length} of ${ids.length} services started within ${timeoutMs / 1000} s`);
      }
      await sleep(everyMs);
    }
  }

  /** Waits for a start of `id` later than `after`; null on timeout. */
  async startedAfter(id: string, after: bigint, timeoutMs: number): Promise<Start | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.poll();
      const s = this.latest.get(id);
      if (s && s.mono > after) return s;
      if (Date.now() > deadline) return null;
      await sleep(2);
    }
  }

  /** Pids of every start recorded so far. */
  pids(): number[] {
    this.poll();
    return this.starts.map((s) => s.pid);
  }

  /**
   * Waits until no recorded service process is alive (zombies count as gone); returns the
   * monotonic time at which that was first seen. Only the still-living pids are re-checked.
   */
  async noneAlive(timeoutMs: number, everyMs = 10): Promise<bigint | null> {
    const deadline = Date.now() + timeoutMs;
    let living: number[] = [];
    let seen = 0;
    for (;;) {
      this.poll(); // a start during the stop (a late restart) is waited for too
      for (; seen < this.starts.length; seen++) living.push((this.starts[seen] as Start).pid);
      living = living.filter(alive);
      if (living.length === 0) return now();
      if (Date.now() > deadline) return null;
      await sleep(everyMs);
    }
  }
}
