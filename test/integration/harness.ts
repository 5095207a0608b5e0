/**
 * Runs the real daemon and the real CLI (bin/upkeep.js) against real processes in a temp folder.
 * Every process a test starts is tracked and killed by process group in `cleanup()`: the daemon,
 * and every service pid any status reply ever showed (services outlive a SIGKILLed daemon).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** Repo root, from dist/test/integration. */
export const ROOT = resolve(here, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'upkeep.js');
export const FIXTURES = join(ROOT, 'test', 'fixtures');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface StatusEntry {
  name: string;
  state: string;
  desired: string;
  pid: number | null;
  restarts: number;
  since: string;
  nextAttemptAt: string | null;
  cause: { kind: string; [k: string]: unknown } | null;
}

export interface EventEntry {
  time: number;
  service: string;
  from: string;
  to: string;
  cause: { kind: string; [k: string]: unknown };
  detail?: Record<string, unknown>;
}

export class Project {
  readonly dir: string;
  readonly config: string;
  readonly state: string;
  readonly socket: string;
  private daemons: ChildProcess[] = [];
  private readonly pgids = new Set<number>();
  daemonOutput = '';

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'upkeep-test-'));
    this.config = join(this.dir, 'services');
    this.state = join(this.dir, 'state');
    this.socket = join(this.dir, 'upkeep.sock');
    mkdirSync(this.config);
  }

  write(name: string, toml: string): string {
    const file = join(this.config, name);
    writeFileSync(file, toml);
    return file;
  }

  remove(name: string): void {
    rmSync(join(this.config, name));
  }

  /** Starts `upkeep daemon` in its own process group and waits until it answers. */
  async startDaemon(extraArgs: string[] = [], env: NodeJS.ProcessEnv = process.env, timeoutMs = 10_000): Promise<ChildProcess> {
    const args = [BIN, 'daemon', '--config', this.config, '--state', this.state, '--socket', this.socket, ...extraArgs];
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    this.daemons.push(child);
    if (child.pid !== undefined) this.pgids.add(child.pid);
    child.stdout?.on('data', (d: Buffer) => (this.daemonOutput += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.daemonOutput += d.toString()));
    await waitFor(async () => (await this.cli('status', '--json')).code === 0, timeoutMs, () => `daemon did not come up:\n${this.daemonOutput}`);
    return child;
  }

  async cli(...args: string[]): Promise<CliResult> {
    return this.cliAs({}, ...args);
  }

  /** The CLI as another user (uid/gid) and/or on another socket (a tenant's). */
  async cliAs(as: { uid?: number; gid?: number; socket?: string | null; env?: NodeJS.ProcessEnv }, ...args: string[]): Promise<CliResult> {
    // socket null: no --socket, the CLI finds the caller's socket by itself.
    const socketArgs = as.socket === null ? [] : ['--socket', as.socket ?? this.socket];
    const child = spawn(process.execPath, [BIN, ...args, ...socketArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(as.env === undefined ? {} : { env: as.env }),
      ...(as.uid === undefined ? {} : { uid: as.uid, gid: as.gid ?? as.uid, cwd: '/' }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? -1)));
    return { code, stdout, stderr };
  }

  async status(): Promise<StatusEntry[]> {
    const r = await this.cli('status', '--json');
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    const list = JSON.parse(r.stdout) as StatusEntry[];
    for (const s of list) if (s.pid !== null) this.pgids.add(s.pid);
    return list;
  }

  async service(name: string): Promise<StatusEntry> {
    const s = (await this.status()).find((x) => x.name === name);
    if (s === undefined) throw new Error(`no ${name} in status`);
    return s;
  }

  async events(name?: string): Promise<EventEntry[]> {
    const r = await this.cli('events', ...(name ? [name] : []), '-n', '100000', '--json');
    if (r.code !== 0) throw new Error(`events failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as EventEntry[];
  }

  /** Waits until `name` is running and returns its status. */
  async running(name: string, timeoutMs = 10_000): Promise<StatusEntry> {
    let last: StatusEntry | undefined;
    await waitFor(async () => {
      last = await this.service(name);
      return last.state === 'running' && last.pid !== null;
    }, timeoutMs, () => `${name} not running: ${JSON.stringify(last)}\n${this.daemonOutput}`);
    return last as StatusEntry;
  }

  track(pgid: number): void {
    this.pgids.add(pgid);
  }

  async stopDaemon(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    child.kill(signal);
    return exited;
  }

  /**
   * Kills everything this test started: the daemon is asked to stop its services first (it
   * knows every pid, also ones no status call showed), then every process group ever seen
   * (daemons and services) is SIGKILLed, and the temp folder removed.
   */
  async cleanup(): Promise<void> {
    for (const d of this.daemons) {
      if (d.exitCode !== null || d.signalCode !== null) continue;
      await this.status().catch(() => undefined);
      const exited = new Promise((res) => d.once('exit', res));
      d.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      killGroup(d.pid);
    }
    for (const pgid of this.pgids) killGroup(pgid);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function killGroup(pgid: number | undefined): void {
  if (pgid === undefined || pgid <= 1) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** Is any non-zombie process still in this process group? */
export function groupHasLiveMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  return pidsInGroup(pgid).length > 0;
}

export function pidsInGroup(pgid: number): number[] {
  return livePids((fields) => Number(fields[2]) === pgid);
}

export function childrenOf(ppid: number): number[] {
  return livePids((fields) => Number(fields[1]) === ppid);
}

/** Live (non-zombie) processes whose /proc/PID/stat fields after the name match. */
function livePids(match: (fields: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] !== 'Z' && match(fields)) out.push(Number(entry));
    } catch {
      /* vanished */
    }
  }
  return out;
}

export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** Polls a condition (tests only: the product never polls where an event exists). */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, message: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(message());
    await sleep(50);
  }
}
