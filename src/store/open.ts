/**
 * openStore: the daemon's one way to get a Store. Normally a SqliteStore on `STATE/state.db`;
 * when that cannot be used, a MemoryStore in read-only safe mode whose `problem` says, for an
 * operator at 3 a.m., which file, what is wrong (with the errno or SQLite code) and what to do.
 *
 * Invariants:
 * - Never deletes, truncates, rewrites or recreates the database file. A corrupt file stays
 *   byte for byte as it was, so that nothing is lost and it can be inspected or repaired.
 * - Never starts from empty when it does not have to: if the file is readable but not usable
 *   (read-only, newer schema), desired state and events are read from it through a read-only
 *   connection, so that an admin stop stays a stop in safe mode too.
 * - Never throws: supervising goes on in every case.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { MemoryStore, type MemoryContents } from './memory.js';
import { errorLabel, readContents, SqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { Store } from './types.js';

export type OpenStoreOptions = SqliteStoreOptions;

type Failure = 'corrupt' | 'newer' | 'unwritable' | 'locked' | 'unusable';

export function openStore(stateDir: string, options: OpenStoreOptions = {}): Store {
  const path = join(stateDir, 'state.db');
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return new MemoryStore(
      path,
      `state directory ${stateDir} cannot be created (${errorLabel(err)}); ${safeMode(false)} ` +
        "Create it as a directory writable by the daemon's user, or pass another --state, then restart the daemon.",
    );
  }
  try {
    return new SqliteStore(path, options);
  } catch (err) {
    const contents = salvage(path);
    return new MemoryStore(path, openProblem(path, classify(err), err, contents !== undefined), { contents });
  }
}

function classify(err: unknown): Failure {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return 'unusable';
  if (code === 'store-schema-newer') return 'newer';
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) return 'corrupt';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return 'locked';
  const unwritable = ['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_FULL'];
  if (unwritable.some((prefix) => code.startsWith(prefix))) return 'unwritable';
  if (['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR', 'EISDIR', 'EEXIST'].includes(code)) return 'unwritable';
  return 'unusable';
}

function openProblem(path: string, failure: Failure, err: unknown, salvaged: boolean): string {
  // The newer-schema error is ours: its message alone is the useful part.
  const label = failure === 'newer' && err instanceof Error ? err.message : errorLabel(err);
  const safe = safeMode(salvaged);
  switch (failure) {
    case 'corrupt':
      return `state database ${path} is corrupt (${label}); ${safe} Move the file aside and restart the daemon to start a new one.`;
    case 'newer':
      return (
        `state database ${path} was written by a newer upkeep (${label}); ${safe} ` +
        'Run that newer upkeep again, or move the file aside and restart the daemon to start a new one.'
      );
    case 'unwritable':
      return (
        `state database ${path} cannot be written (${label}); ${safe} Make ${dirname(path)} and ${path} ` +
        "writable by the daemon's user (check ownership, that state.db is a regular file, free space and read-only mounts), " +
        'then restart the daemon.'
      );
    case 'locked':
      return (
        `state database ${path} is locked by another process (${label}); ${safe} ` +
        `Stop the other daemon or program holding it (see: fuser ${path}), then restart the daemon.`
      );
    case 'unusable':
      return (
        `state database ${path} cannot be used (${label}); ${safe} ` +
        'Check the disk and the file; if it cannot be fixed, move the file aside and restart the daemon to start a new one.'
      );
    default: {
      const unreachable: never = failure;
      return String(unreachable);
    }
  }
}

function safeMode(salvaged: boolean): string {
  return salvaged
    ? 'running in read-only safe mode: supervising with the desired state read from the file, nothing new is saved.'
    : 'running in read-only safe mode: supervising from the service files, nothing is saved.';
}

/** What a read-only connection can still read, or undefined when nothing at all. */
function salvage(path: string): MemoryContents | undefined {
  let db: Database.Database | undefined;
  try {
    // readonly + fileMustExist: this connection can neither create the file nor write to it.
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 1000 });
    const contents = readContents(db);
    const found = contents.events.length + contents.desired.length + contents.instances.length + contents.meta.length;
    return found === 0 ? undefined : contents;
  } catch {
    return undefined;
  } finally {
    try {
      db?.close();
    } catch {
      /* nothing to release */
    }
  }
}
