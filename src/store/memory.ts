/**
 * MemoryStore: the Store kept in process memory. It serves read-only safe mode (the database is
 * corrupt or unwritable, see open.ts) and tests of other modules.
 *
 * Invariants:
 * - It never touches any file: `path` is only the name of the database it stands in for.
 * - `mode` is 'safe' exactly when a `problem` was given.
 * - Events get increasing `seq` numbers, continuing after the newest event it was seeded with, so
 *   a SqliteStore that falls back to memory mid-run keeps its numbering.
 * - At most `eventCap` (default MAX_EVENTS) newest events are kept, so that a daemon that runs
 *   for months in safe mode does not grow without bound; desired state, instances and meta are
 *   small and kept in full.
 */
import type { DesiredRecord, EventQuery, EventRecord, InstanceRecord, Store } from './types.js';

export const MAX_EVENTS = 100_000;

/** What a MemoryStore can start with: whatever could still be read from a database. */
export interface MemoryContents {
  /** Oldest first. */
  events: EventRecord[];
  desired: Array<[string, DesiredRecord]>;
  instances: InstanceRecord[];
  meta: Array<[string, string]>;
}

export interface MemoryStoreOptions {
  contents?: MemoryContents;
  eventCap?: number;
}

export class MemoryStore implements Store {
  readonly mode: 'ok' | 'safe';
  readonly problem?: string;
  readonly path: string;

  // Events live in `log[start..]`: dropping the oldest is a cheap `start++`, and the array is
  // compacted only once `start` has grown past the cap, so appending stays O(1) amortized.
  private log: EventRecord[] = [];
  private start = 0;
  private nextSeq = 1;
  private readonly eventCap: number;
  private readonly desired = new Map<string, DesiredRecord>();
  private readonly running = new Map<string, InstanceRecord>();
  private readonly meta = new Map<string, string>();

  constructor(path: string, problem?: string, options: MemoryStoreOptions = {}) {
    this.path = path;
    this.mode = problem === undefined ? 'ok' : 'safe';
    if (problem !== undefined) this.problem = problem;
    this.eventCap = Math.max(1, Math.floor(options.eventCap ?? MAX_EVENTS));
    const contents = options.contents;
    if (contents !== undefined) {
      for (const event of contents.events) {
        this.push({ ...event });
        if (event.seq !== undefined && event.seq >= this.nextSeq) this.nextSeq = event.seq + 1;
      }
      for (const [service, desired] of contents.desired) this.desired.set(service, { ...desired });
      for (const instance of contents.instances) this.running.set(instance.service, { ...instance });
      for (const [key, value] of contents.meta) this.meta.set(key, value);
    }
  }

  appendEvent(event: EventRecord): EventRecord {
    const stored: EventRecord = { ...event, seq: this.nextSeq++ };
    this.push(stored);
    return { ...stored };
  }

  events(query: EventQuery = {}): EventRecord[] {
    const limit = query.limit === undefined ? Infinity : Math.max(0, Math.floor(query.limit));
    const found: EventRecord[] = [];
    // Walk from the newest end so that `limit` stops the scan early.
    for (let i = this.log.length - 1; i >= this.start && found.length < limit; i--) {
      const event = this.log[i]!;
      if (query.service !== undefined && event.service !== query.service) continue;
      if (query.prefix !== undefined && !event.service.startsWith(query.prefix)) continue;
      if (query.since !== undefined && event.time < query.since) continue;
      found.push({ ...event });
    }
    return found.reverse();
  }

  getDesired(service: string): DesiredRecord | undefined {
    const desired = this.desired.get(service);
    return desired === undefined ? undefined : { ...desired };
  }

  setDesired(service: string, desired: DesiredRecord): void {
    this.desired.set(service, { ...desired });
  }

  desiredEntries(): [string, DesiredRecord][] {
    return [...this.desired].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, { ...v }]);
  }

  deleteDesired(service: string): void {
    this.desired.delete(service);
  }

  recordInstance(instance: InstanceRecord): void {
    this.running.set(instance.service, { ...instance });
  }

  clearInstance(service: string): void {
    this.running.delete(service);
  }

  instances(): InstanceRecord[] {
    return [...this.running.values()].map((instance) => ({ ...instance }));
  }

  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }

  /** Nothing to release; the contents stay readable so that a late `why` still answers. */
  close(): void {}

  private push(event: EventRecord): void {
    this.log.push(event);
    if (this.log.length - this.start > this.eventCap) this.start++;
    if (this.start >= this.eventCap) {
      this.log = this.log.slice(this.start);
      this.start = 0;
    }
  }
}
