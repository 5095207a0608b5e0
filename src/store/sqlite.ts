/**
 * The durable store: desired state, running instances and the append-only event log in one
 * SQLite database (`STATE/state.db`, WAL mode, prepared statements made once).
 *
 * Invariants:
 * - Opening never creates over, truncates or deletes an existing file: a file that is not our
 *   database makes `openStore` fall back to safe mode (see open.ts).
 * - Events and instance records are written in one transaction per event-loop turn (a start
 *   storm of a thousand services is tens of commits, not thousands); any read, desired-state
 *   write or close flushes them first, so readers never miss a write.
 * - A write that fails at runtime (disk full, file replaced, read-only) never throws into the
 *   supervisor: the store switches to safe mode, copies what it can into memory, and from then on
 *   serves everything from memory without touching the file again.
 */
import Database from 'better-sqlite3';
import { MemoryStore } from './memory.js';
import type { DesiredRecord, EventQuery, EventRecord, InstanceRecord, Store } from './types.js';

export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time INTEGER NOT NULL,
  service TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  cause TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS events_service ON events (service, seq);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE TABLE IF NOT EXISTS desired (
  service TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
  service TEXT PRIMARY KEY,
  pid INTEGER NOT NULL,
  start_time INTEGER NOT NULL,
  boot_id TEXT NOT NULL
);
`;

interface EventRow {
  seq: number;
  time: number;
  service: string;
  from_state: string;
  to_state: string;
  cause: string;
  detail: string | null;
}

export class SqliteStore implements Store {
  readonly path: string;
  private db: Database.Database | null;
  private fallback: MemoryStore | null = null;
  private readonly stmt: ReturnType<typeof prepare>;
  private nextSeq: number;
  /** Writes waiting for the end of this event-loop turn: each with its in-memory twin. */
  private pending: { db: () => void; memory: (m: MemoryStore) => void }[] = [];
  private flushScheduled = false;

  /** Opens an existing or new database; throws if it is not usable (the caller decides safe mode). */
  constructor(path: string) {
    this.path = path;
    const db = new Database(path);
    try {
      db.pragma('busy_timeout = 2000');
      // Reading the schema is what reveals a file that is not a database (SQLITE_NOTADB).
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw Object.assign(new Error(`schema version ${version} is newer than this upkeep understands (${SCHEMA_VERSION})`), {
          code: 'UPKEEP_SCHEMA_NEWER',
        });
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      if (version < SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
      this.stmt = prepare(db);
      this.nextSeq = ((db.prepare('SELECT max(seq) AS m FROM events').get() as { m: number | null }).m ?? 0) + 1;
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  get mode(): 'ok' | 'safe' {
    return this.fallback === null ? 'ok' : 'safe';
  }

  get problem(): string | undefined {
    return this.fallback?.problem;
  }

  appendEvent(event: EventRecord): EventRecord {
    const stored: EventRecord = { ...event, seq: this.nextSeq++ };
    this.later(
      () =>
        void this.stmt.insertEvent.run(
          stored.seq,
          stored.time,
          stored.service,
          stored.from,
          stored.to,
          JSON.stringify(stored.cause),
          stored.detail === undefined ? null : JSON.stringify(stored.detail),
        ),
      (m) => void m.appendEvent(stored),
    );
    return stored;
  }

  events(query: EventQuery = {}): EventRecord[] {
    return this.guarded(
      () => {
        const rows = this.stmt.selectEvents.all({
          service: query.service ?? null,
          since: query.since ?? null,
          limit: query.limit ?? -1,
        }) as EventRow[];
        return rows.reverse().map(toEvent);
      },
      (m) => m.events(query),
    );
  }

  getDesired(service: string): DesiredRecord | undefined {
    return this.guarded(
      () => {
        const row = this.stmt.getDesired.get(service) as { state: string; enabled: number; updated_at: number } | undefined;
        return row === undefined
          ? undefined
          : { state: row.state === 'stopped' ? 'stopped' : 'running', enabled: row.enabled !== 0, updatedAt: row.updated_at };
      },
      (m) => m.getDesired(service),
    );
  }

  setDesired(service: string, desired: DesiredRecord): void {
    this.guarded(
      () => void this.stmt.setDesired.run(service, desired.state, desired.enabled ? 1 : 0, desired.updatedAt),
      (m) => m.setDesired(service, desired),
    );
  }

  recordInstance(instance: InstanceRecord): void {
    this.later(
      () => void this.stmt.setInstance.run(instance.service, instance.pid, instance.startTime, instance.bootId),
      (m) => m.recordInstance(instance),
    );
  }

  clearInstance(service: string): void {
    this.later(() => void this.stmt.clearInstance.run(service), (m) => m.clearInstance(service));
  }

  instances(): InstanceRecord[] {
    return this.guarded(
      () =>
        (this.stmt.allInstances.all() as { service: string; pid: number; start_time: number; boot_id: string }[]).map((r) => ({
          service: r.service,
          pid: r.pid,
          startTime: r.start_time,
          bootId: r.boot_id,
        })),
      (m) => m.instances(),
    );
  }

  getMeta(key: string): string | undefined {
    return this.guarded(() => (this.stmt.getMeta.get(key) as { value: string } | undefined)?.value, (m) => m.getMeta(key));
  }

  setMeta(key: string, value: string): void {
    this.guarded(() => void this.stmt.setMeta.run(key, value), (m) => m.setMeta(key, value));
  }

  close(): void {
    this.flush();
    try {
      this.db?.close();
    } catch {
      /* closing a broken database must not fail the shutdown */
    }
    this.db = null;
  }

  /** Queues a write for the end of this event-loop turn (see the invariants above). */
  private later(db: () => void, memory: (m: MemoryStore) => void): void {
    if (this.fallback !== null || this.db === null) {
      memory(this.memory());
      return;
    }
    this.pending.push({ db, memory });
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes everything pending in one transaction. */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (this.fallback !== null || this.db === null) {
      for (const op of batch) op.memory(this.memory());
      return;
    }
    try {
      this.db.transaction(() => {
        for (const op of batch) op.db();
      })();
    } catch (err) {
      this.failOver(err);
      for (const op of batch) op.memory(this.memory());
    }
  }

  /** Runs against the database (after pending writes), or against memory once it has failed. */
  private guarded<T>(fn: () => T, inMemory: (m: MemoryStore) => T): T {
    this.flush();
    if (this.fallback !== null || this.db === null) return inMemory(this.memory());
    try {
      return fn();
    } catch (err) {
      this.failOver(err);
      return inMemory(this.memory());
    }
  }

  private memory(): MemoryStore {
    this.fallback ??= new MemoryStore(this.path, `state database ${this.path} is closed; running from memory`);
    return this.fallback;
  }

  /** A runtime failure: copy what can still be read, then never touch the file again. */
  private failOver(err: unknown): void {
    const e = err as { code?: string; message?: string };
    const problem =
      `state database ${this.path} failed (${e.code ?? 'error'}: ${e.message ?? String(err)}); running in read-only safe mode: ` +
      'supervising goes on, changes are kept in memory only. Fix the disk or file, then restart the daemon.';
    const memory = new MemoryStore(this.path, problem);
    try {
      const db = this.db as Database.Database;
      const s = prepare(db);
      memory.seed({
        events: (db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT 10000').all() as EventRow[]).reverse().map(toEvent),
        desired: (s.allDesired.all() as { service: string; state: string; enabled: number; updated_at: number }[]).map((r) => [
          r.service,
          { state: r.state === 'stopped' ? 'stopped' : 'running', enabled: r.enabled !== 0, updatedAt: r.updated_at },
        ]),
        instances: (s.allInstances.all() as { service: string; pid: number; start_time: number; boot_id: string }[]).map((r) => ({
          service: r.service,
          pid: r.pid,
          startTime: r.start_time,
          bootId: r.boot_id,
        })),
        meta: (db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]),
      });
    } catch {
      /* unreadable too: start the memory store empty, the service files still drive supervision */
    }
    this.fallback = memory;
    this.close();
  }
}

function prepare(db: Database.Database) {
  return {
    insertEvent: db.prepare('INSERT INTO events (seq, time, service, from_state, to_state, cause, detail) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    selectEvents: db.prepare(
      `SELECT * FROM events WHERE (@service IS NULL OR service = @service) AND (@since IS NULL OR time >= @since)
       ORDER BY seq DESC LIMIT @limit`,
    ),
    getDesired: db.prepare('SELECT state, enabled, updated_at FROM desired WHERE service = ?'),
    allDesired: db.prepare('SELECT service, state, enabled, updated_at FROM desired'),
    setDesired: db.prepare(
      `INSERT INTO desired (service, state, enabled, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(service) DO UPDATE SET state = excluded.state, enabled = excluded.enabled, updated_at = excluded.updated_at`,
    ),
    setInstance: db.prepare(
      `INSERT INTO instances (service, pid, start_time, boot_id) VALUES (?, ?, ?, ?)
       ON CONFLICT(service) DO UPDATE SET pid = excluded.pid, start_time = excluded.start_time, boot_id = excluded.boot_id`,
    ),
    clearInstance: db.prepare('DELETE FROM instances WHERE service = ?'),
    allInstances: db.prepare('SELECT service, pid, start_time, boot_id FROM instances'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };
}

function toEvent(r: EventRow): EventRecord {
  const event: EventRecord = {
    seq: r.seq,
    time: r.time,
    service: r.service,
    from: r.from_state as EventRecord['from'],
    to: r.to_state as EventRecord['to'],
    cause: JSON.parse(r.cause) as EventRecord['cause'],
  };
  if (r.detail !== null) event.detail = JSON.parse(r.detail) as Record<string, unknown>;
  return event;
}
