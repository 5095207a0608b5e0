/**
 * Running the two front ends of `upkeep` side by side: bin/upkeep (the sh wrapper, which runs the
 * native client, native/client) and bin/upkeep.js (the Node CLI). Output is kept as bytes, so
 * that "the same output" means byte for byte.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { BIN, ROOT } from './harness.js';

export const WRAPPER = join(ROOT, 'bin', 'upkeep');
export const NATIVE = join(ROOT, 'native', 'client', 'build', 'Release', 'upkeep');

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  raw: Buffer;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
}

export function run(file: string, args: string[], options: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid, cwd: '/' }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const raw = Buffer.concat(out);
      resolve({ code, signal, stdout: raw.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), raw });
    });
  });
}

/** `upkeep ARGS` as a user runs it (through the wrapper). */
export const upkeep = (args: string[], options?: RunOptions) => run(WRAPPER, args, options);
/** The Node CLI with the same arguments. */
export const nodeCli = (args: string[], options?: RunOptions) => run(process.execPath, [BIN, ...args], options);

/** Skips the test (with the reason) when the native client was not built; returns whether it was. */
export function nativeBuilt(t: TestContext): boolean {
  if (existsSync(NATIVE)) return true;
  t.skip('native/client is not built (npm run build:native)');
  return false;
}

/** The status table with its SINCE column masked: the two runs are a moment apart. */
export function maskSince(table: string): string[][] {
  const lines = table.replace(/\n$/, '').split('\n');
  const header = lines[0]?.split(/ {2,}/) ?? [];
  const since = header.indexOf('SINCE');
  return lines.map((line, i) => {
    const cells = line.split(/ {2,}/);
    if (i > 0 && since >= 0) cells[since] = '*';
    return cells;
  });
}
