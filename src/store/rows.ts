/**
 * The SQLite schema of the state store and the mapping between its rows and the store's records:
 * migrations (append only), prepared statements, and reading everything back for safe mode.
 */
import type Database from 'better-sqlite3';
import { MAX_EVENTS, type MemoryContents } from './memory.js';
import type { DesiredRecord, EventRecord, InstanceRecord, PublicState } from './types.js';

export const SCHEMA_VERSION = 1;

/** MIGRATIONS[v] takes a database from user_version v to v + 1. Append only; never edit one. */
export const MIGRATIONS: readonly string[] = [
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

export type EventRow = { seq: number; time: number; service: string; from_state: string; to_state: string } & {
  cause: string;
  detail: string | null;
};
export type DesiredRow = { service: string; state: string; enabled: number; updated_at: number };
export type InstanceRow = { service: string; pid: number; start_time: number; boot_id: string };

export const EVENT_COLUMNS = 'seq, time, service, from_state, to_state, cause, detail';

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

export function migrate(db: Database.Database, from: number): void {
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

export function prepareStatements(db: Database.Database) {
  return {
    begin: db.prepare('BEGIN'),
    commit: db.prepare('COMMIT'),
    insertEvent: db.prepare(
      'INSERT INTO events (time, service, from_state, to_state, cause, detail) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getDesired: db.prepare('SELECT service, state, enabled, updated_at FROM desired WHERE service = ?'),
    allDesired: db.prepare('SELECT service, state, enabled, updated_at FROM desired ORDER BY service'),
    deleteDesired: db.prepare('DELETE FROM desired WHERE service = ?'),
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

export function toEvent(r: EventRow): EventRecord {
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

export function mapOptional<R, T>(row: R | undefined, map: (row: R) => T): T | undefined {
  return row === undefined ? undefined : map(row);
}

export function toDesired(r: DesiredRow): DesiredRecord {
  // Anything but an explicit stop reads as running: a damaged value must not silently stop a service.
  return { state: r.state === 'stopped' ? 'stopped' : 'running', enabled: r.enabled !== 0, updatedAt: r.updated_at };
}

export function toInstance(r: InstanceRow): InstanceRecord {
  return { service: r.service, pid: r.pid, startTime: r.start_time, bootId: r.boot_id };
}
