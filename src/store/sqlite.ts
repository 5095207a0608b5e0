/**
 * SqliteStore: the durable store. Desired state, running instances, meta and the append-only
 * event log live in one SQLite database (`STATE/state.db`, WAL, synchronous=NORMAL, statements
 * prepared once; the schema version is `PRAGMA user_version`).
 *
 * Invariants:
 * - Event and instance writes are one prepared statement each, grouped into one transaction per
 *   event-loop turn (committed by setImmediate): a single commit costs ~60 µs on a plain disk,
 *   an INSERT inside a transaction ~5 µs, and a start storm writes thousands. This connection
 *   reads its own uncommitted rows, so nothing waits for the commit. Desired state and meta are
 *   admin intent: they commit at once (with whatever the turn wrote before them).
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
import { MemoryStore } from './memory.js';
import {
  errorLabel,
  EVENT_COLUMNS,
  mapOptional,
  migrate,
  prepareStatements,
  readContents,
  SCHEMA_VERSION,
  toDesired,
  toEvent,
  toInstance,
  type DesiredRow,
  type EventRow,
  type InstanceRow,
} from './rows.js';
import type { DesiredRecord, EventQuery, EventRecord, InstanceRecord, Store } from './types.js';

export { errorLabel, readContents, SCHEMA_VERSION };

export interface SqliteStoreOptions {
  /** How long a statement waits for another connection's lock before failing. Default 5000. */
  busyTimeoutMs?: number;
  /** Called once, with the problem text, when a runtime failure switches the store to safe mode. */
  onSafeMode?: (problem: string) => void;
}


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
  /** What the open transaction wrote, to be replayed into memory if SQLite rolls it back. */
  private uncommittedEvents: EventRecord[] = [];
  private uncommittedInstances: Array<InstanceRecord | string> = [];
  private commitScheduled = false;

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
    if (this.fallback !== null) return this.fallback.appendEvent(event);
    try {
      this.inTurnTransaction();
      const info = this.stmt.insertEvent.run(event.time, event.service, event.from, event.to, cause, detail);
      const stored = { ...event, seq: Number(info.lastInsertRowid) };
      this.uncommittedEvents.push(stored);
      return stored;
    } catch (err) {
      return this.failOver(err, 'appending an event').appendEvent(event);
    }
  }

  events(query: EventQuery = {}): EventRecord[] {
    const limit = query.limit === undefined ? -1 : Math.max(0, Math.floor(query.limit));
    // A prefix matches by its length, not by LIKE: `_` and `%` in names are not wildcards.
    const params = { service: query.service, since: query.since, prefix: query.prefix, prefixLength: query.prefix?.length, limit };
    return this.guard(
      'reading events',
      () => (this.eventQuery(query).all(params) as EventRow[]).reverse().map(toEvent),
      (m) => m.events(query),
    );
  }

  getDesired(service: string): DesiredRecord | undefined {
    const read = () => this.stmt.getDesired.get(service) as DesiredRow | undefined;
    return this.guard('reading desired state', () => mapOptional(read(), toDesired), (m) => m.getDesired(service));
  }

  setDesired(service: string, desired: DesiredRecord): void {
    const write = () => this.stmt.setDesired.run(service, desired.state, desired.enabled ? 1 : 0, desired.updatedAt);
    this.guard('saving desired state', () => void (this.commit(), write()), (m) => m.setDesired(service, desired));
  }

  desiredEntries(): [string, DesiredRecord][] {
    const read = () => (this.stmt.allDesired.all() as DesiredRow[]).map((r): [string, DesiredRecord] => [r.service, toDesired(r)]);
    return this.guard('reading desired state', read, (m) => m.desiredEntries());
  }

  deleteDesired(service: string): void {
    const write = () => this.stmt.deleteDesired.run(service);
    this.guard('saving desired state', () => void (this.commit(), write()), (m) => m.deleteDesired(service));
  }

  recordInstance(instance: InstanceRecord): void {
    const write = () => {
      this.inTurnTransaction();
      this.stmt.setInstance.run(instance.service, instance.pid, instance.startTime, instance.bootId);
      this.uncommittedInstances.push({ ...instance });
    };
    this.guard('recording an instance', write, (m) => m.recordInstance(instance));
  }

  clearInstance(service: string): void {
    const write = () => {
      this.inTurnTransaction();
      this.stmt.clearInstance.run(service);
      this.uncommittedInstances.push(service);
    };
    this.guard('clearing an instance', write, (m) => m.clearInstance(service));
  }

  instances(): InstanceRecord[] {
    const read = () => (this.stmt.allInstances.all() as InstanceRow[]).map(toInstance);
    return this.guard('reading instances', read, (m) => m.instances());
  }

  getMeta(key: string): string | undefined {
    const read = () => (this.stmt.getMeta.get(key) as { value: string } | undefined)?.value;
    return this.guard('reading meta', read, (m) => m.getMeta(key));
  }

  setMeta(key: string, value: string): void {
    this.guard('saving meta', () => void (this.commit(), this.stmt.setMeta.run(key, value)), (m) => m.setMeta(key, value));
  }

  /** Commits what this event-loop turn wrote; runs by itself at the end of the turn. */
  flush(): void {
    this.commitScheduled = false;
    this.guard('saving events', () => this.commit(), () => undefined);
  }

  /** Late calls after close (an exit seen during shutdown) land in memory instead of throwing. */
  close(): void {
    this.flush();
    this.closeHandle();
    this.fallback ??= new MemoryStore(this.path);
  }

  private commit(): void {
    if (!this.db!.inTransaction) return;
    this.stmt.commit.run();
    this.uncommittedEvents = [];
    this.uncommittedInstances = [];
  }

  private inTurnTransaction(): void {
    if (this.db!.inTransaction) return;
    this.stmt.begin.run();
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(() => this.flush());
    }
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
    const key = `${query.service !== undefined}/${query.since !== undefined}/${query.prefix !== undefined}`;
    let stmt = this.eventQueries.get(key);
    if (stmt === undefined) {
      const where: string[] = [];
      if (query.service !== undefined) where.push('service = @service');
      if (query.since !== undefined) where.push('time >= @since');
      if (query.prefix !== undefined) where.push('substr(service, 1, @prefixLength) = @prefix');
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
    // This connection still sees its uncommitted rows, unless SQLite rolled the transaction back
    // (it may on SQLITE_FULL, IOERR or BUSY): then replay what the turn wrote.
    const contents = this.db === null ? undefined : readContents(this.db);
    if (contents !== undefined) {
      const newest = contents.events.at(-1)?.seq ?? 0;
      contents.events.push(...this.uncommittedEvents.filter((e) => e.seq! > newest));
      const instances = new Map(contents.instances.map((i) => [i.service, i]));
      for (const op of this.uncommittedInstances) {
        if (typeof op === 'string') instances.delete(op);
        else instances.set(op.service, op);
      }
      contents.instances = [...instances.values()];
    }
    this.uncommittedEvents = [];
    this.uncommittedInstances = [];
    this.closeHandle();
    this.problemText = problem;
    this.fallback = new MemoryStore(this.path, problem, { contents });
    this.onSafeMode?.(problem);
    return this.fallback;
  }

  private closeHandle(): void {
    // Closing rolls back an open transaction and lets SQLite finish the WAL bookkeeping of what
    // it already committed; no statement of ours runs after this. A broken handle must not fail
    // the shutdown or the switch.
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
