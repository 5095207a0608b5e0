/**
 * sd_notify, the receiving side, compatible with systemd: one datagram socket per service
 * (mode 0600, exported to it as NOTIFY_SOCKET), newline-separated KEY=VALUE assignments, the
 * sender's pid from the kernel (SCM_CREDENTIALS) so the driver can drop messages from processes
 * outside the service. The socket itself comes from the project's addon native/notify.
 *
 * Invariants: the receive path never throws (a bad datagram is ignored); unknown keys and bad
 * numbers are ignored, as systemd does; close() removes the socket file.
 */
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadAddon } from '../process/native-addon.js';

export interface NotifyMessage {
  ready?: true;
  status?: string;
  watchdog?: 'ping' | 'trigger';
  watchdogUsec?: number;
  stopping?: true;
  reloading?: true;
  extendTimeoutUsec?: number;
  errno?: number;
  mainPid?: number;
}

/** Assignments of one datagram; a later assignment of the same key wins. */
export function parseNotify(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

export function toNotifyMessage(map: Map<string, string>): NotifyMessage {
  const msg: NotifyMessage = {};
  const count = (key: string): number | undefined => {
    const v = map.get(key);
    return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
  };
  if (map.get('READY') === '1') msg.ready = true;
  if (map.has('STATUS')) msg.status = map.get('STATUS') as string;
  if (map.get('WATCHDOG') === '1') msg.watchdog = 'ping';
  if (map.get('WATCHDOG') === 'trigger') msg.watchdog = 'trigger';
  if (map.get('STOPPING') === '1') msg.stopping = true;
  if (map.get('RELOADING') === '1') msg.reloading = true;
  const numbers: [keyof NotifyMessage, string][] = [
    ['watchdogUsec', 'WATCHDOG_USEC'],
    ['extendTimeoutUsec', 'EXTEND_TIMEOUT_USEC'],
    ['errno', 'ERRNO'],
    ['mainPid', 'MAINPID'],
  ];
  for (const [field, key] of numbers) {
    const n = count(key);
    if (n !== undefined) (msg as Record<string, number>)[field] = n;
  }
  return msg;
}

interface NotifyAddon {
  open(path: string, onMessage: (data: Buffer, pid: number) => void): unknown;
  close(handle: unknown): void;
}

export function notifyAvailable(): boolean {
  return addon() !== null;
}

function addon(): NotifyAddon | null {
  return loadAddon<NotifyAddon>('notify', (m) => typeof m.open === 'function' && typeof m.close === 'function');
}

export class NotifySocket {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly native: NotifyAddon,
    private readonly handle: unknown,
  ) {}

  /** Binds a fresh socket at `path` (a stale file there is replaced). Throws if it cannot. */
  static open(path: string, onMessage: (msg: NotifyMessage, senderPid: number | undefined, raw: string) => void): NotifySocket {
    const native = addon();
    if (native === null) throw new Error('the native notify addon is not built (run npm run build:native)');
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    try {
      unlinkSync(path);
    } catch {
      /* none there */
    }
    const handle = native.open(path, (data, pid) => {
      try {
        const raw = data.toString('utf8');
        onMessage(toNotifyMessage(parseNotify(raw)), pid > 0 ? pid : undefined, raw);
      } catch {
        /* a datagram must never take down the daemon */
      }
    });
    chmodSync(path, 0o600);
    return new NotifySocket(path, native, handle);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
    try {
      unlinkSync(this.path);
    } catch {
      /* already gone */
    }
  }
}
