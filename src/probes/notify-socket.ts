/**
 * sd_notify, the receiving side, compatible with systemd: one datagram socket per service
 * (exported to it as NOTIFY_SOCKET), newline-separated KEY=VALUE assignments, and the sender's
 * pid from the kernel (SCM_CREDENTIALS) so the driver can drop messages from processes outside
 * the service. The socket itself comes from the project's addon native/notify (uv_poll on
 * Node's loop: no thread, no polling).
 *
 * Invariants:
 * - The socket file is created with mode 0600 (owner: the daemon; the caller may chown it to
 *   the service user) and removed by close(). While open it keeps the event loop alive, like a
 *   listening server; after close() nothing of it does.
 * - The receive path never throws: a bad or oversized (> 4 KiB) datagram is ignored, and so is
 *   an exception from onMessage. Unknown keys and bad numbers are ignored, as systemd does.
 */
import { mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { UpkeepError } from '../errors.js';
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

/**
 * Assignments of one datagram; a later assignment of the same key wins. Lines split on '\n'
 * and '\r', as systemd's strv_split_newlines does, so a client writing CRLF still works.
 */
export function parseNotify(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split(/[\n\r]/)) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    map.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return map;
}

/** Decimal digits only, within what a double holds exactly; anything else is not a number. */
function count(map: Map<string, string>, key: string): number | undefined {
  const v = map.get(key);
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

export function toNotifyMessage(map: Map<string, string>): NotifyMessage {
  const msg: NotifyMessage = {};
  if (map.get('READY') === '1') msg.ready = true;
  const status = map.get('STATUS');
  if (status !== undefined) msg.status = status;
  const watchdog = map.get('WATCHDOG');
  if (watchdog === '1') msg.watchdog = 'ping';
  else if (watchdog === 'trigger') msg.watchdog = 'trigger';
  if (map.get('STOPPING') === '1') msg.stopping = true;
  if (map.get('RELOADING') === '1') msg.reloading = true;
  const watchdogUsec = count(map, 'WATCHDOG_USEC');
  if (watchdogUsec !== undefined) msg.watchdogUsec = watchdogUsec;
  const extend = count(map, 'EXTEND_TIMEOUT_USEC');
  if (extend !== undefined) msg.extendTimeoutUsec = extend;
  const errno = count(map, 'ERRNO');
  if (errno !== undefined) msg.errno = errno;
  const mainPid = count(map, 'MAINPID');
  if (mainPid !== undefined && mainPid > 0) msg.mainPid = mainPid; // pid 0 is no process
  return msg;
}

interface NotifyAddon {
  open(path: string, onMessage: (data: Buffer, pid: number) => void): unknown;
  close(handle: unknown): void;
}

function addon(): NotifyAddon | null {
  return loadAddon<NotifyAddon>('notify', (m) => typeof m.open === 'function' && typeof m.close === 'function');
}

/** Whether the native addon loaded, i.e. whether NotifySocket.open() can succeed. */
export function notifyAvailable(): boolean {
  return addon() !== null;
}

export class NotifySocket {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly native: NotifyAddon,
    private readonly handle: unknown,
  ) {}

  /**
   * Binds a fresh socket at `path` (a stale file there is replaced; a missing directory is
   * created). Throws an UpkeepError if it cannot; after that, never.
   */
  static open(path: string, onMessage: (msg: NotifyMessage, senderPid: number | undefined, raw: string) => void): NotifySocket {
    const native = addon();
    if (native === null) {
      throw new UpkeepError('notify-unavailable', `cannot open the notify socket ${path}: the native addon native/notify is not built`, {
        hint: 'run `npm run build:native`',
      });
    }
    // 0755, not 0700: a service running as another user must reach its socket; each socket's
    // own mode (0600, then chowned to that user) is what keeps the others out.
    mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    try {
      unlinkSync(path);
    } catch {
      // nothing there
    }
    const receive = (data: Buffer, pid: number): void => {
      try {
        // systemd reads the datagram as a C string: a trailing NUL (sizeof "READY=1") ends it.
        const end = data.indexOf(0);
        const raw = data.toString('utf8', 0, end < 0 ? data.length : end);
        onMessage(toNotifyMessage(parseNotify(raw)), pid > 0 ? pid : undefined, raw);
      } catch {
        // a datagram, or a bug in a handler, must never take down the daemon
      }
    };
    try {
      return new NotifySocket(path, native, native.open(path, receive));
    } catch (err) {
      throw new UpkeepError('notify-socket', `cannot open the notify socket ${path}: ${(err as Error).message}`, {
        hint: 'check that the directory is writable and the path is under 108 bytes',
        cause: err,
      });
    }
  }

  /** Stops receiving and removes the socket file; calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.handle);
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}
