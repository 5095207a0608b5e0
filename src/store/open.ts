/**
 * Opens the state store of a daemon: the SQLite database in the state folder, or, when that
 * cannot be used, an in-memory store in read-only safe mode with a problem text that says what
 * is wrong, with which file, and what to do. It never deletes or recreates the database.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export function openStore(stateDir: string): Store {
  const path = join(stateDir, 'state.db');
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return new MemoryStore(path, unusable(path, err, `cannot create the state folder ${stateDir}`));
  }
  try {
    return new SqliteStore(path);
  } catch (err) {
    return new MemoryStore(path, unusable(path, err));
  }
}

function unusable(path: string, err: unknown, what?: string): string {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? 'error';
  const detail = `${code}: ${e.message ?? String(err)}`;
  const corrupt = code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB' || code === 'UPKEEP_SCHEMA_NEWER';
  const head = what ?? (corrupt ? `state database ${path} is corrupt or not ours` : `state database ${path} cannot be opened for writing`);
  const advice = corrupt
    ? 'Move the file aside and restart the daemon to start a new one.'
    : 'Fix the permissions, disk space or path, then restart the daemon.';
  return `${head} (${detail}); running in read-only safe mode: supervising from the service files, nothing is saved. ${advice}`;
}
