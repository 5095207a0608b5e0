/**
 * The in-memory store: what the daemon uses in read-only safe mode (the database could not be
 * used), and what unit tests of other modules use. Nothing here touches the disk. The event log
 * keeps the newest MAX_EVENTS so a long safe-mode run cannot grow without bound.
 */
import type { DesiredRecord, EventQuery, EventRecord, InstanceRecord, Store } from './types.js';

export const MAX_EVENTS = 100_000;

export class MemoryStore implements Store {
  readonly path: string;
  private readonly problemText: string | undefined;
  private eventLog: EventRecord[] = [];
  private seq = 0;
  private readonly desired = new Map<string, DesiredRecord>();
  private readonly running = new Map<string, InstanceRecord>();
  private readonly meta = new Map<string, string>();

  constructor(path: string, problem?: string) {
    this.path = path;
    this.problemText = problem;
  }

  get mode(): 'ok' | 'safe' {
    return this.problemText === undefined ? 'ok' : 'safe';
  }

  get problem(): string | undefined {
    return this.problemText;
  }

  appendEvent(event: EventRecord): EventRecord {
    const stored = { ...event, seq: ++this.seq };
    this.eventLog.push(stored);
    if (this.eventLog.length > MAX_EVENTS * 1.1) this.eventLog = this.eventLog.slice(-MAX_EVENTS);
    return stored;
  }

  events(query: EventQuery = {}): EventRecord[] {
    const matching = this.eventLog.filter(
      (e) => (query.service === undefined || e.service === query.service) && (query.since === undefined || e.time >= query.since),
    );
    return query.limit === undefined ? matching : matching.slice(Math.max(0, matching.length - query.limit));
  }

  getDesired(service: string): DesiredRecord | undefined {
    return this.desired.get(service);
  }

  setDesired(service: string, desired: DesiredRecord): void {
    this.desired.set(service, desired);
  }

  recordInstance(instance: InstanceRecord): void {
    this.running.set(instance.service, instance);
  }

  clearInstance(service: string): void {
    this.running.delete(service);
  }

  instances(): InstanceRecord[] {
    return [...this.running.values()];
  }

  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }

  setMeta(key: string, value: string): void {
    this.meta.set(key, value);
  }

  close(): void {
    /* nothing to release */
  }

  /** Used when a SqliteStore falls back at runtime: carry over what it still could read. */
  seed(from: { events: EventRecord[]; desired: [string, DesiredRecord][]; instances: InstanceRecord[]; meta: [string, string][] }): void {
    for (const e of from.events) {
      this.eventLog.push(e);
      this.seq = Math.max(this.seq, e.seq ?? 0);
    }
    for (const [k, v] of from.desired) this.desired.set(k, v);
    for (const i of from.instances) this.running.set(i.service, i);
    for (const [k, v] of from.meta) this.meta.set(k, v);
  }
}
