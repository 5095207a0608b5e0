/**
 * What the supervisor needs from durable storage. Two implementations: SqliteStore (the normal
 * case) and MemoryStore (read-only safe mode, used when the database is corrupt or unwritable;
 * it keeps events in memory and never touches the database file).
 */
import type { Cause } from '../supervisor/causes.js';

export type PublicState = 'stopped' | 'starting' | 'running' | 'stopping' | 'backoff' | 'failed';

/** One recorded state change. `seq` is assigned by the store; `time` is ms since the epoch. */
export interface EventRecord {
  seq?: number;
  time: number;
  service: string;
  from: PublicState;
  to: PublicState;
  cause: Cause;
  /** Extra facts at the time of the change: pid, next attempt time, restart count. */
  detail?: Record<string, unknown>;
}

export interface EventQuery {
  service?: string;
  /** Only services whose name starts with this (a tenant's `alice/`). */
  prefix?: string;
  /** Only events with time >= since (ms since the epoch). */
  since?: number;
  /** The newest `limit` events (still returned oldest first). */
  limit?: number;
}

/** Admin intent for one service: survives daemon restarts and reboots. */
export interface DesiredRecord {
  state: 'running' | 'stopped';
  enabled: boolean;
  updatedAt: number;
}

/** A process the daemon started, so that a later daemon can find it by pid AND start time. */
export interface InstanceRecord {
  service: string;
  pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot): with the pid, identifies the process. */
  startTime: number;
  bootId: string;
}

export interface Store {
  /** 'ok', or 'safe' when the database could not be used: supervising goes on, nothing persists. */
  readonly mode: 'ok' | 'safe';
  /** Why the store is in safe mode (names the file and the error), else undefined. */
  readonly problem?: string;
  readonly path: string;

  appendEvent(event: EventRecord): EventRecord;
  events(query?: EventQuery): EventRecord[];

  getDesired(service: string): DesiredRecord | undefined;
  setDesired(service: string, desired: DesiredRecord): void;
  /** Every service with a desired state (template instances are found this way). */
  desiredEntries(): [string, DesiredRecord][];
  deleteDesired(service: string): void;

  recordInstance(instance: InstanceRecord): void;
  clearInstance(service: string): void;
  instances(): InstanceRecord[];

  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  close(): void;
}
