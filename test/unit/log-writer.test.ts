import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LogWriter, readTail, fitRecord } from '../../src/process/log-writer.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-log-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

let n = 0;
function logPath(): string {
  return path.join(root, `case${n++}`, 'web.log');
}
const fixedNow = () => Date.UTC(2026, 10, 25, 6, 40, 1, 123);
const read = (p: string) => fs.readFileSync(p, 'utf8');

test('lines get a UTC millisecond timestamp and their stream tag', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 1 << 20, keep: 3 }, fixedNow);
  w.write('out', Buffer.from('listening on 8080\n'));
  w.write('err', Buffer.from('warn: a\nwarn: b\n'));
  w.note('started pid 123');
  w.close();
  assert.equal(
    read(p),
    '2026-11-25T06:40:01.123Z out listening on 8080\n' +
      '2026-11-25T06:40:01.123Z err warn: a\n' +
      '2026-11-25T06:40:01.123Z err warn: b\n' +
      '2026-11-25T06:40:01.123Z upkeep started pid 123\n',
  );
  assert.equal(fs.statSync(p).mode & 0o777 & ~0o640, 0, 'file mode is at most 0640');
  assert.equal(fs.statSync(path.dirname(p)).mode & 0o777 & ~0o750, 0, 'dir mode is at most 0750');
  assert.equal(w.lastError, undefined);
});

test('a partial line waits for its newline, per stream, and flush() writes it', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 1 << 20, keep: 3 }, fixedNow);
  w.write('out', Buffer.from('hel'));
  w.write('err', Buffer.from('oops'));
  w.write('out', Buffer.from('lo wor'));
  assert.equal(fs.existsSync(p) ? read(p) : '', '', 'nothing written before a newline');
  w.write('out', Buffer.from('ld\nnext'));
  w.flush();
  const lines = read(p).trimEnd().split('\n').map((l) => l.slice(25));
  assert.deepEqual(lines, ['out hello world', 'out next', 'err oops']);
  w.close();
});

test('a partial line past 64 KiB is written without waiting for its newline', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 1 << 20, keep: 2 }, fixedNow);
  w.write('out', Buffer.alloc(70 * 1024, 'x'));
  assert.equal(read(p).length, 25 + 4 + 70 * 1024 + 1);
  w.close();
});

test('rotation keeps all files <= maxSize × keep and exactly `keep` files', () => {
  const p = logPath();
  const policy = { maxSize: 1000, keep: 4 };
  const w = new LogWriter(p, policy);
  let written = 0;
  for (let i = 0; written < 50 * policy.maxSize; i++) {
    const chunk = Buffer.from(`line ${i} ${'y'.repeat(i % 37)}\n`);
    w.write(i % 2 === 0 ? 'out' : 'err', chunk);
    written += chunk.length;
  }
  w.close();
  const files = fs.readdirSync(path.dirname(p)).sort();
  assert.deepEqual(files, ['web.log', 'web.log.1', 'web.log.2', 'web.log.3']);
  let total = 0;
  for (const f of files) {
    const size = fs.statSync(path.join(path.dirname(p), f)).size;
    assert.ok(size <= policy.maxSize, `${f} is ${size} bytes`);
    total += size;
  }
  assert.ok(total <= policy.maxSize * policy.keep, `total ${total}`);
  assert.equal(w.lastError, undefined);
});

test('a line longer than maxSize is truncated to fit and says how much was cut', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 200, keep: 2 }, fixedNow);
  w.write('out', Buffer.from(`${'z'.repeat(500)}\n`));
  w.close();
  const text = read(p);
  assert.ok(Buffer.byteLength(text) <= 200);
  const m = /^2026-11-25T06:40:01\.123Z out (z*) …\[truncated (\d+) bytes\]\n$/.exec(text);
  assert.ok(m, text);
  assert.equal(m[1]!.length + Number(m[2]), 500);
  // Also at a size where the marker's digit count changes, and never mid UTF-8 character.
  for (let max = 40; max < 140; max++) {
    const rec = fitRecord('T out ', Buffer.from('é'.repeat(100)), max);
    assert.ok(rec.length <= max, `max ${max}: ${rec.length}`);
    assert.ok(!rec.toString('utf8').includes('\ufffd'), `max ${max}: cut mid-character`);
  }
});

test('a new writer picks up the existing file size (daemon restart appends)', () => {
  const p = logPath();
  const policy = { maxSize: 300, keep: 2 };
  const first = new LogWriter(p, policy, fixedNow);
  first.write('out', Buffer.from(`${'a'.repeat(200)}\n`));
  first.close();
  const second = new LogWriter(p, policy, fixedNow);
  second.write('out', Buffer.from(`${'b'.repeat(200)}\n`));
  second.close();
  assert.match(read(`${p}.1`), /a{200}\n$/);
  assert.match(read(p), /^\S+ out b{200}\n$/);
});

test('readTail returns the last N lines across rotated files, newest last', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 120, keep: 5 });
  for (let i = 0; i < 12; i++) w.note(`line ${String(i).padStart(2, '0')}`);
  w.close();
  assert.ok(fs.existsSync(`${p}.2`), 'output spans several files');
  const tail = readTail(p, 5, 7).map((l) => l.replace(/^\S+ upkeep /, ''));
  assert.deepEqual(tail, ['line 05', 'line 06', 'line 07', 'line 08', 'line 09', 'line 10', 'line 11']);
  assert.equal(readTail(p, 5, 100).length, 12);
  assert.deepEqual(readTail(path.join(root, 'missing.log'), 3, 5), []);
});

test('readTail reads a large file backwards without cutting lines', () => {
  const p = logPath();
  const w = new LogWriter(p, { maxSize: 1 << 22, keep: 1 });
  for (let i = 0; i < 5000; i++) w.write('out', Buffer.from(`${i} ${'q'.repeat(100)}\n`));
  w.close();
  const tail = readTail(p, 1, 3000);
  assert.equal(tail.length, 3000);
  assert.match(tail[0]!, / out 2000 q{100}$/);
  assert.match(tail[2999]!, / out 4999 q{100}$/);
});

test('a symlink planted at the log path is not followed and write() does not throw', () => {
  const p = logPath();
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const target = path.join(root, 'precious.txt');
  fs.writeFileSync(target, 'do not touch\n');
  fs.symlinkSync(target, p);
  const w = new LogWriter(p, { maxSize: 1000, keep: 2 });
  assert.doesNotThrow(() => {
    w.write('out', Buffer.from('attack\n'));
    w.note('exited with code 1');
    w.close();
  });
  assert.equal(read(target), 'do not touch\n');
  assert.ok(w.lastError, 'the failure is recorded');
  assert.deepEqual(readTail(p, 2, 5), [], 'readTail does not follow the symlink either');
});
