/**
 * SqliteStore: the durable store. Desired state, running instances, meta and the append-only
 * event log live in one SQLite database (`STATE/state.db`, WAL, synchronous=NORMAL, statements
 * prepared once; the schema version is `PRAGMA user_version`).
 *
 * Invariants:
 * - Opening reads before it writes: a file that is not our database (or a newer schema) makes
 *   the constructor throw before a single byte is written, and open.ts falls back to safe mode.
 *   Nothing here ever deletes, truncates or recreates an existing file.
 * - Once open, no method throws into the supervisor. The first failing statement (disk full,
 *   read-only, file replaced, locked) switches the store to safe mode for good: what can still
 *   be read is copied into a MemoryStore, the handle is closed, and from then on everything is
 *   served from memory; the file is never touched again.
 */
import Database from 'better-sqlite3';
import { StoreError } from '../errors.js';
import { MAX_EVENTS, MemoryStore, type MemoryContents } from './memory.js';
import type { DesiredRecord, EventQuery, EventRecord, InstanceRecord, PublicState, Store } from './types.js';

export const SCHEMA_VERSION = 1;

/** MIGRATIONS[v] takes a database from user_version v to v + 1. Append only; never edit one. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS events (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     time INTEGER NOT NULL,
     service TEXT NOT NULL,
     from_state TEXT NOT NULL,
     to_state TEXT NOT NULL,
     cause TEXT NOT NULL,
     detail TEXT
   );
   CREATE INDEX IF NOT EXISTS events_by_service ON events (service, seq);
   CREATE INDEX IF NOT EXISTS events_by_time ON events (time);
   CREATE TABLE IF NOT EXISTS desired (
     service TEXT PRIMARY KEY, state TEXT NOT NULL, enabled INTEGER NOT NULL, updated_at INTEGER NOT NULL
   );
   CREATE TABLE IF NOT EXISTS instances (
     service TEXT PRIMARY KEY, pid INTEGER NOT NULL, start_time INTEGER NOT NULL, boot_id TEXT NOT NULL
   );
   CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
];

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** Called once, with the problem text, when a runtime failure switches the store to safe mode. */
  onSafeMode?: (problem: string) => void;
}

interface EventRow {
  seq: number;
  time: number;
  service: string;
  from_state: string;
  to_state: string;
  cause: string;
  detail: string | null;
}
interface DesiredRow {
  service: string;
  state: string;
  enabled: number;
  updated_at: number;
}
interface InstanceRow {
  service: string;
  pid: number;
  start_time: number;
  boot_id: string;
}

const EVENT_COLUMNS = 'seq, time, service, from_state, to_state, cause, detail';

export class SqliteStore implements Store {
  readonly path: string;
  private db: Database.Database | null;
  private readonly stmt: ReturnType<typeof prepareStatements>;
  /** One statement per filter shape (service? since?), so that each can use its index. */
  private readonly eventQueries = new Map<string, Database.Statement>();
  /** Set after a failure (with `problemText`) or after close (without). */
  private fallback: MemoryStore | null = null;
  private problemText: string | undefined;
  private readonly onSafeMode: ((problem: string) => void) | undefined;

  /** Opens or creates the database; throws (SqliteError or StoreError) if it cannot be used. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.path = path;
    this.onSafeMode = options.onSafeMode;
    const db = new Database(path, { timeout: options.busyTimeoutMs ?? 5000 });
    try {
      // Better-sqlite3 opens garbage without complaint; the first read is what reveals
      // SQLITE_NOTADB, and it must come before journal_mode=WAL, which writes the header.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) {
        throw new StoreError(`schema version ${version}; this upkeep understands up to ${SCHEMA_VERSION}`, {
          code: 'store-schema-newer',
        });
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      migrate(db, version);
      this.stmt = prepareStatements(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
  }

  get mode(): 'ok' | 'safe' {
    return this.problemText === undefined ? 'ok' : 'safe';
  }

  get problem(): string | undefined {
    return this.problemText;
  }

  appendEvent(event: EventRecord): EventRecord {
    // Serialise outside the guard: a bad value is the caller's bug, not a database failure.
    const cause = JSON.stringify(event.cause);
    const detail = event.detail === undefined ? null : JSON.stringify(event.detail);
    if (this.fallback === null) {
      try {
        const info = this.stmt.insertEvent.run(event.time, event.service, event.from, event.to, cause, detail);
        return { ...event, seq: Number(info.lastInsertRowid) };
      } catch (err) {
        return this.failOver(err, 'appending an event').appendEvent(event);
      }
    }
    return this.fallback.appendEvent(event);
  }

  events(query: EventQuery = {}): EventRecord[] {
    return this.guard(
      'reading events',
      () => {
        const limit = query.limit === undefined ? -1 : Math.max(0, Math.floor(query.limit));
        const rows = this.eventQuery(query).all({ service: query.service, since: query.since, limit }) as EventRow[];
        return rows.reverse().map(toEvent);
      },
      (m) => m.events(query),
    );
  }

  getDesired(service: string): DesiredRecord | undefined {
    return this.guard(
      'reading desired state',
      () => {
        const row = this.stmt.getDesired.get(service) as DesiredRow | undefined;
        return row === undefined ? undefined : toDesired(row);
      },
      (m) => m.getDesired(service),
    );
  }

  setDesired(service: string, desired: DesiredRecord): void {
    this.guard(
      'saving desired state',
      () => void this.stmt.setDesired.run(service, desired.state, desired.enabled ? 1 : 0, desired.updatedAt),
      (m) => m.setDesired(service, desired),
    );
  }

  recordInstance(instance: InstanceRecord): void {
    this.guard(
      'recording an instance',
      () => void this.stmt.setInstance.run(instance.service, instance.pid, instance.startTime, instance.bootId),
      (m) => m.recordInstance(instance),
    );
  }

  clearInstance(service: string): void {
    this.guard('clearing an instance', () => void this.stmt.clearInstance.run(service), (m) => m.clearInstance(service));
  }

  instances(): InstanceRecord[] {
    return this.guard(
      'reading instances',
      () => (this.stmt.allInstances.all() as InstanceRow[]).map(toInstance),
      (m) => m.instances(),
    );
  }

  getMeta(key: string): string | undefined {
    return this.guard(
      'reading meta',
      () => (this.stmt.getMeta.get(key) as { value: string } | undefined)?.value,
      (m) => m.getMeta(key),
    );
  }

  setMeta(key: string, value: string): void {
    this.guard('saving meta', () => void this.stmt.setMeta.run(key, value), (m) => m.setMeta(key, value));
  }

  /** Late calls after close (an exit seen during shutdown) land in memory instead of throwing. */
  close(): void {
    this.closeHandle();
    this.fallback ??= new MemoryStore(this.path);
  }

  private guard<T>(doing: string, onDisk: () => T, inMemory: (m: MemoryStore) => T): T {
    if (this.fallback !== null) return inMemory(this.fallback);
    try {
      return onDisk();
    } catch (err) {
      return inMemory(this.failOver(err, doing));
    }
  }

  private eventQuery(query: EventQuery): Database.Statement {
    const key = `${query.service !== undefined}/${query.since !== undefined}`;
    let stmt = this.eventQueries.get(key);
    if (stmt === undefined) {
      const where: string[] = [];
      if (query.service !== undefined) where.push('service = @service');
      if (query.since !== undefined) where.push('time >= @since');
      const clause = where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`;
      stmt = this.db!.prepare(`SELECT ${EVENT_COLUMNS} FROM events ${clause} ORDER BY seq DESC LIMIT @limit`);
      this.eventQueries.set(key, stmt);
    }
    return stmt;
  }

  /** The one switch to safe mode: copy what can be read, close, never touch the file again. */
  private failOver(err: unknown, doing: string): MemoryStore {
    const problem =
      `state database ${this.path} failed while ${doing} (${errorLabel(err)}); switched to read-only safe mode: ` +
      'supervising goes on, but nothing more is saved (changes are kept in memory until the daemon stops). ' +
      'Fix the cause (free space, permissions, a locked, damaged or replaced file), then restart the daemon.';
    const contents = this.db === null ? undefined : readContents(this.db);
    this.closeHandle();
    this.problemText = problem;
    this.fallback = new MemoryStore(this.path, problem, { contents });
    this.onSafeMode?.(problem);
    return this.fallback;
  }

  private closeHandle(): void {
    // Closing lets SQLite finish the WAL bookkeeping of what it already committed; no statement
    // of ours runs after this. A broken handle must not fail the shutdown or the switch.
    try {
      this.db?.close();
    } catch {
      /* already unusable */
    }
    this.db = null;
  }
}

/**
 * Best effort, table by table and row by row: whatever can still be read from an open handle
 * (the newest MAX_EVENTS events). Used for the runtime switch and by open.ts for salvage.
 */
export function readContents(db: Database.Database, eventCap = MAX_EVENTS): MemoryContents {
  const contents: MemoryContents = { events: [], desired: [], instances: [], meta: [] };
  const each = <R>(sql: string, params: unknown[], add: (row: R) => void): void => {
    try {
      for (const row of db.prepare(sql).iterate(...params)) add(row as R);
    } catch {
      /* keep the rows read so far */
    }
  };
  each<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?`, [eventCap], (r) =>
    contents.events.push(toEvent(r)),
  );
  contents.events.reverse();
  each<DesiredRow>('SELECT service, state, enabled, updated_at FROM desired', [], (r) =>
    contents.desired.push([r.service, toDesired(r)]),
  );
  each<InstanceRow>('SELECT service, pid, start_time, boot_id FROM instances', [], (r) =>
    contents.instances.push(toInstance(r)),
  );
  each<{ key: string; value: string }>('SELECT key, value FROM meta', [], (r) => contents.meta.push([r.key, r.value]));
  return contents;
}

/** `CODE: message` for an operator; Node's fs messages already start with their code. */
export function errorLabel(err: unknown): string {
  const { code, message } = (typeof err === 'object' && err !== null ? err : {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  return typeof code === 'string' && !text.startsWith(code) ? `${code}: ${text}` : text;
}

function migrate(db: Database.Database, from: number): void {
  // Always a write transaction, even at the current version: a read-only file opens and reads
  // fine, and only a real write proves that what we record later will be kept.
  db.exec('BEGIN IMMEDIATE');
  try {
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
    db.exec('COMMIT');
  } catch (err) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

function prepareStatements(db: Database.Database) {
  return {
    insertEvent: db.prepare(
      'INSERT INTO events (time, service, from_state, to_state, cause, detail) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getDesired: db.prepare('SELECT service, state, enabled, updated_at FROM desired WHERE service = ?'),
    setDesired: db.prepare(
      `INSERT INTO desired (service, state, enabled, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(service) DO UPDATE SET state = excluded.state, enabled = excluded.enabled, updated_at = excluded.updated_at`,
    ),
    setInstance: db.prepare(
      `INSERT INTO instances (service, pid, start_time, boot_id) VALUES (?, ?, ?, ?)
       ON CONFLICT(service) DO UPDATE SET pid = excluded.pid, start_time = excluded.start_time, boot_id = excluded.boot_id`,
    ),
    clearInstance: db.prepare('DELETE FROM instances WHERE service = ?'),
    allInstances: db.prepare('SELECT service, pid, start_time, boot_id FROM instances ORDER BY service'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
  };
}

function toEvent(r: EventRow): EventRecord {
  const event: EventRecord = {
    seq: r.seq,
    time: r.time,
    service: r.service,
    from: r.from_state as PublicState,
    to: r.to_state as PublicState,
    cause: JSON.parse(r.cause) as EventRecord['cause'],
  };
  if (r.detail !== null) event.detail = JSON.parse(r.detail) as Record<string, unknown>;
  return event;
}

function toDesired(r: DesiredRow): DesiredRecord {
  // Anything but an explicit stop reads as running: a damaged value must not silently stop a service.
  return { state: r.state === 'stopped' ? 'stopped' : 'running', enabled: r.enabled !== 0, updatedAt: r.updated_at };
}

function toInstance(r: InstanceRow): InstanceRecord {
  return { service: r.service, pid: r.pid, startTime: r.start_time, bootId: r.boot_id };
}
