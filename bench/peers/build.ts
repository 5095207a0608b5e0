/**
 * Builds the two C programs of the peer bench (svc.c, spawn-loop.c) with `cc -O2` into a fresh
 * temp folder. The service binary's path is then unique to this run, which is how the bench
 * finds every service process of its own (by /proc/PID/exe) and no one else's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOURCES } from './paths.js';

export interface Build {
  dir: string;
  svc: string;
  spawnLoop: string;
  remove(): void;
}

export function buildPrograms(): Build {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-peers-build-'));
  const svc = join(dir, 'peer-svc');
  const spawnLoop = join(dir, 'peer-spawn-loop');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-o', svc, join(SOURCES, 'svc.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('cc', ['-O2', '-Wall', '-o', spawnLoop, join(SOURCES, 'spawn-loop.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, svc, spawnLoop, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
