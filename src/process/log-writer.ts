/**
 * The log file of one service: timestamped, tagged lines with size rotation.
 *
 * Owns `name.log` and its rotated copies `name.log.1` … `name.log.(keep-1)` (newest is .1).
 * Invariants:
 * - Every record is one whole line `<ISO-8601 UTC ms> <out|err|upkeep> <text>\n`; output of a
 *   stream is buffered until its newline arrives, so lines of stdout and stderr never interleave
 *   mid-line. A partial line past 64 KiB is written anyway (memory stays bounded).
 * - No file exceeds `maxSize` (a longer record is truncated and says so), and a file is rotated
 *   before a record would push it past `maxSize`; so all files together stay <= maxSize × keep.
 * - write(), note(), flush() and close() never throw: a log problem must not take down the daemon
 *   or the service. The data is dropped and the error kept in `lastError`.
 * - The file is opened with O_NOFOLLOW and must be a regular file, so a symlink planted at the log
 *   path by a service user cannot make the (possibly root) daemon append to another file.
 * Synchronous fs on purpose: it is simple, and the order of records is exactly the order of calls.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { UpkeepError } from '../errors.js';

export type LogStream = 'out' | 'err';
export interface LogPolicy {
  /** Largest size in bytes of one file. */
  maxSize: number;
  /** Number of files in all, including the current one. */
  keep: number;
}

/** Longest partial line kept in memory while waiting for its newline. */
export const MAX_PARTIAL_LINE = 64 * 1024;
const NEWLINE = 0x0a;
// O_NONBLOCK: a FIFO planted at the log path must fail (ENXIO) rather than block the daemon; it has
// no effect on regular files.
const { O_WRONLY, O_APPEND, O_CREAT, O_RDONLY, O_NONBLOCK } = fs.constants;
// O_NOFOLLOW is missing on some platforms; there we fall back to the regular-file check alone.
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

export class LogWriter {
  /** The most recent error met while writing (data of that call was dropped); never cleared. */
  lastError: Error | undefined;

  private fd: number | undefined;
  private size = 0;
  private readonly partial: Record<LogStream, Buffer[]> = { out: [], err: [] };
  private readonly partialSize: Record<LogStream, number> = { out: 0, err: 0 };

  constructor(
    readonly path: string,
    private readonly policy: LogPolicy,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isSafeInteger(policy.maxSize) || policy.maxSize < 1) {
      throw new UpkeepError('invalid-argument', `${path}: log max_size must be a positive integer, got \`${policy.maxSize}\``);
    }
    if (!Number.isSafeInteger(policy.keep) || policy.keep < 1) {
      throw new UpkeepError('invalid-argument', `${path}: log keep must be an integer >= 1, got \`${policy.keep}\``);
    }
    // A daemon restart appends to the existing file, so rotation must count what is already there.
    try {
      const st = fs.lstatSync(path);
      if (st.isFile()) this.size = st.size;
    } catch {
      // Missing (or unreadable) file: size 0; open() will report real problems on first write.
    }
  }

  /** Adds output of the service; complete lines are written now, a partial last line waits. */
  write(stream: LogStream, chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.partialSize[stream] === 0) {
        this.writeLine(stream, piece);
      } else {
        this.partial[stream].push(piece);
        this.flushStream(stream);
      }
    }
    if (start < chunk.length) {
      // Copy: the caller may reuse its buffer after we return.
      const rest = Buffer.from(chunk.subarray(start));
      this.partial[stream].push(rest);
      this.partialSize[stream] += rest.length;
      if (this.partialSize[stream] > MAX_PARTIAL_LINE) this.flushStream(stream);
    }
  }

  /** A line from the supervisor itself ("started pid 123", "exited with code 1"). */
  note(text: string): void {
    for (const line of text.replace(/\n$/, '').split('\n')) this.writeLine('upkeep', Buffer.from(line));
  }

  /** Writes any partial lines as they are (used when the service exits). */
  flush(): void {
    this.flushStream('out');
    this.flushStream('err');
  }

  /** Flushes and closes the file; a later write opens it again. */
  close(): void {
    this.flush();
    if (this.fd === undefined) return;
    try {
      fs.closeSync(this.fd);
    } catch (err) {
      this.lastError = asError(err);
    }
    this.fd = undefined;
  }

  private flushStream(stream: LogStream): void {
    if (this.partial[stream].length === 0) return;
    const line = Buffer.concat(this.partial[stream]);
    this.partial[stream] = [];
    this.partialSize[stream] = 0;
    this.writeLine(stream, line);
  }

  private writeLine(tag: LogStream | 'upkeep', line: Buffer): void {
    const prefix = `${new Date(this.now()).toISOString()} ${tag} `;
    const record = fitRecord(prefix, line, this.policy.maxSize);
    try {
      let fd = this.open(); // first, so the size is the file's real one (others may append)
      if (this.size > 0 && this.size + record.length > this.policy.maxSize) {
        this.rotate();
        fd = this.open();
      }
      let done = 0;
      while (done < record.length) done += fs.writeSync(fd, record, done);
      this.size += done;
    } catch (err) {
      this.lastError = asError(err);
    }
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    fs.mkdirSync(dirname(this.path), { recursive: true, mode: 0o750 });
    const fd = fs.openSync(this.path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o640);
    try {
      const st = fs.fstatSync(fd);
      // A FIFO or device at the log path could block or leak output; only a plain file will do.
      if (!st.isFile()) throw new UpkeepError('log-not-a-file', `${this.path}: log path is not a regular file`);
      this.size = st.size;
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.fd = fd;
    return fd;
  }

  /** Shifts name.log -> .1 -> .2 …, dropping the oldest; the next write opens a fresh file. */
  private rotate(): void {
    if (this.fd !== undefined) {
      const fd = this.fd;
      this.fd = undefined;
      fs.closeSync(fd);
    }
    const keep = this.policy.keep;
    if (keep === 1) {
      removeIfPresent(this.path);
    } else {
      removeIfPresent(`${this.path}.${keep - 1}`);
      for (let i = keep - 2; i >= 1; i--) renameIfPresent(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameIfPresent(this.path, `${this.path}.1`);
    }
    this.size = 0;
  }
}

/**
 * Builds `prefix + line + "\n"`, truncating the line so the record fits in maxSize bytes and
 * saying how many bytes were cut. Cuts on a UTF-8 character boundary.
 */
export function fitRecord(prefix: string, line: Buffer, maxSize: number): Buffer {
  const head = Buffer.from(prefix);
  const full = head.length + line.length + 1;
  if (full <= maxSize) return Buffer.concat([head, line, Buffer.from('\n')], full);
  // The marker's length depends on the count it prints: start from the least possible cut and
  // grow it until the count no longer gains a digit (at most a few rounds).
  let cut = full - maxSize;
  let keepBytes: number;
  for (;;) {
    const budget = maxSize - head.length - Buffer.byteLength(` …[truncated ${cut} bytes]`) - 1;
    keepBytes = Math.min(Math.max(0, budget), line.length);
    while (keepBytes > 0 && (line[keepBytes]! & 0xc0) === 0x80) keepBytes--; // not mid-character
    const actual = line.length - keepBytes;
    const settled = String(actual).length <= String(cut).length;
    cut = actual;
    if (settled) break;
  }
  const marker = ` …[truncated ${cut} bytes]`;
  const record = Buffer.concat([head, line.subarray(0, keepBytes), Buffer.from(`${marker}\n`)]);
  if (record.length <= maxSize) return record;
  // maxSize smaller than timestamp + marker: keep the invariant, lose the readability.
  const tiny = Buffer.from(record.subarray(0, Math.max(0, maxSize - 1)));
  return Buffer.concat([tiny, Buffer.from('\n')]).subarray(0, maxSize);
}

/**
 * The last `lines` lines across `path.(keep-1)` … `path.1`, `path` (newest last), without the
 * trailing newlines. Missing files are skipped; symlinks are not followed (they are skipped too).
 */
export function readTail(path: string, keep: number, lines: number): string[] {
  if (lines <= 0) return [];
  const files = [path];
  for (let i = 1; i < keep; i++) files.push(`${path}.${i}`);
  const out: Buffer[][] = [];
  let count = 0;
  for (const file of files) {
    const got = tailOfFile(file, lines - count);
    out.unshift(got);
    count += got.length;
    if (count >= lines) break;
  }
  return out.flat().map((b) => b.toString('utf8'));
}

const TAIL_BLOCK = 64 * 1024;

/** The last n lines of one file, read backwards in blocks so a large file is not read whole. */
function tailOfFile(file: string, n: number): Buffer[] {
  let fd: number;
  try {
    fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return [];
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return [];
    const blocks: Buffer[] = [];
    let pos = st.size;
    let newlines = 0;
    // n lines need n+1 newlines to be sure the first one is whole (the last byte is usually '\n').
    while (pos > 0 && newlines <= n) {
      const len = Math.min(TAIL_BLOCK, pos);
      pos -= len;
      const block = Buffer.alloc(len);
      const read = fs.readSync(fd, block, 0, len, pos);
      const got = block.subarray(0, read);
      blocks.unshift(got);
      for (let i = got.indexOf(NEWLINE); i !== -1; i = got.indexOf(NEWLINE, i + 1)) newlines++;
    }
    const text = Buffer.concat(blocks);
    const parts: Buffer[] = [];
    let start = 0;
    for (let nl = text.indexOf(NEWLINE); nl !== -1; nl = text.indexOf(NEWLINE, start)) {
      parts.push(text.subarray(start, nl));
      start = nl + 1;
    }
    if (start < text.length) parts.push(text.subarray(start)); // last line without newline
    // When we stopped before the start of the file, the first part may be a cut line: drop it.
    if (pos > 0) parts.shift();
    return parts.slice(Math.max(0, parts.length - n));
  } catch {
    return [];
  } finally {
    fs.closeSync(fd);
  }
}

function removeIfPresent(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
