/**
 * The socket side of socket activation, as systemd does it: the daemon opens a service's
 * listening sockets (TCP or Unix stream) before the service runs and hands them over as fds
 * 3, 4, ... with LISTEN_FDS; the service accepts on them instead of binding. Clients that
 * connect while the service starts, restarts or crashed queue in the kernel's backlog instead
 * of being refused. onceReadable() is the lazy variant: start the service on the first
 * connection. The sockets come from the project's addon native/listen.
 *
 * Invariants:
 * - The fds are blocking and close-on-exec in the daemon; spawn's stdio mapping (['ignore',
 *   out, err, ...fds]) dup2()s them to 3, 4, ... in the child, where they stay open. LISTEN_PID
 *   must be the child's own pid, so only the child can set it (`export LISTEN_PID=$$; exec ...`).
 * - With options.uid/gid (a service running as a tenant user), every path operation on a Unix
 *   socket (removing a stale socket, bind, chmod, and the unlink in close()) runs with that
 *   user's filesystem rights: a path the tenant chose, symlinks included, cannot make the
 *   daemon (root) create or remove a file where the tenant could not. The file is the tenant's.
 * - Only sockets are ever removed, never followed symlinks or other files; close() removes
 *   only the very file this module bound (same device and inode), if it is still there.
 * - A Unix socket file is never wider than `mode`, whatever the umask, and ends exactly `mode`.
 * - openListeners() is all or nothing: if one address fails, those already opened are closed.
 *   close() never throws and may be called twice.
 */
import { lstatSync } from 'node:fs';
import { UpkeepError } from '../errors.js';
import { formatListenAddress, parseListenAddress, type ListenAddress } from '../config/listen-address.js';
import { loadAddon } from './native-addon.js';

// The grammar of an address belongs to the service-file format: one parser for `upkeep check` and the bind.
export { formatListenAddress, parseListenAddress, type ListenAddress };


export interface ListenOptions {
  /** Mode of Unix socket files; default 0o666, as systemd's SocketMode=. */
  mode?: number;
  /** The service user (both or neither): Unix paths are handled with its filesystem rights. */
  uid?: number;
  gid?: number;
  /** Owner of Unix socket files bound with the daemon's own rights (only without uid/gid). */
  owner?: { uid: number; gid: number };
  /** Queue length per socket; default 4096, as systemd's Backlog= (the kernel caps it at somaxconn). */
  backlog?: number;
}

export interface Listeners {
  /** In address order: the child's fds 3, 4, ... */
  readonly fds: readonly number[];
  readonly addresses: readonly ListenAddress[];
  /** Each address as written back, with the bound port (port 0 picks one): for logs and status. */
  readonly names: readonly string[];
  /** LISTEN_FDS for the child's environment (LISTEN_PID is for the child to set, see above). */
  env(): { LISTEN_FDS: string };
  /**
   * Calls `onReadable(index)` once, when any socket has a pending connection, without accepting
   * it. Returns a cancel function. One watch at a time. An exception from the callback is an
   * uncaught exception, as from any event handler.
   */
  onceReadable(onReadable: (index: number) => void): () => void;
  /** Closes every fd and removes the socket files bound here. */
  close(): void;
}

/** A socket could not be opened; `errno` is the system's name for why (EADDRINUSE, EACCES, ...). */
export class ListenError extends UpkeepError {
  readonly errno: string;
  readonly address: string;
  constructor(errno: string, address: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('listen-failed', message, options);
    this.errno = errno;
    this.address = address;
  }
}

interface ListenAddon {
  listenTcp(host: string, port: number, backlog: number): number;
  listenUnix(path: string, backlog: number, mode: number, uid: number, gid: number, ownerUid: number, ownerGid: number): number;
  unlinkSocket(path: string, uid: number, gid: number, dev: bigint, ino: bigint): boolean;
  localPort(fd: number): number;
  close(fd: number): void;
  watchReadable(fd: number, onReadable: (fd: number) => void): unknown;
  unwatch(handle: unknown): void;
}

const FUNCTIONS = ['listenTcp', 'listenUnix', 'unlinkSocket', 'localPort', 'close', 'watchReadable', 'unwatch'] as const;

function addon(): ListenAddon | null {
  return loadAddon<ListenAddon>('listen', (m) => FUNCTIONS.every((name) => typeof m[name] === 'function'));
}

/** Whether the native addon loaded, i.e. whether openListeners() can succeed. */
export function listenAvailable(): boolean {
  return addon() !== null;
}

function checkId(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value < 0xffffffff)) {
    throw new UpkeepError('listen-options-invalid', `Expected \`${name}\` to be a user or group id, got ${JSON.stringify(value)}`);
  }
}

function checkOptions(options: ListenOptions): void {
  const { mode, uid, gid, owner, backlog } = options;
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o777)) {
    throw new UpkeepError('listen-options-invalid', `Expected \`mode\` to be from 0 to 0o777, got ${JSON.stringify(mode)}`);
  }
  if (backlog !== undefined && !(Number.isInteger(backlog) && backlog >= 1 && backlog <= 0x7fffffff)) {
    throw new UpkeepError('listen-options-invalid', `Expected \`backlog\` to be a positive integer, got ${JSON.stringify(backlog)}`);
  }
  checkId('uid', uid);
  checkId('gid', gid);
  checkId('owner.uid', owner?.uid);
  checkId('owner.gid', owner?.gid);
  if ((uid === undefined) !== (gid === undefined)) {
    throw new UpkeepError('listen-options-invalid', 'Expected `uid` and `gid` together, got only one of them');
  }
  if (owner !== undefined && uid !== undefined) {
    throw new UpkeepError('listen-options-invalid', '`owner` is for sockets bound with the daemon\'s own rights: with `uid`, the socket is already that user\'s', {
      hint: 'drop `owner`',
    });
  }
}

function hintFor(errno: string, address: ListenAddress): string | undefined {
  switch (errno) {
    case 'EADDRINUSE':
      return 'another process listens there: stop it or choose another address';
    case 'EACCES':
    case 'EPERM':
      return address.kind === 'tcp'
        ? 'ports below 1024 need root (or CAP_NET_BIND_SERVICE)'
        : 'the service user must be able to search every directory of the path and write the last one';
    case 'EEXIST':
      return 'something that is not a socket is at that path: remove it or choose another path';
    case 'ENOENT':
      return 'create the directory first';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'check the host name, or use an IP address';
    case 'EADDRNOTAVAIL':
      return 'no interface of this machine has that address';
    default:
      return undefined;
  }
}

function toListenError(err: unknown, address: ListenAddress): ListenError {
  const errno = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'UNKNOWN';
  const detail = (err as Error).message.replace(/^listen: /, '');
  const name = formatListenAddress(address);
  return new ListenError(errno, name, `cannot listen on ${name}: ${detail}`, { hint: hintFor(errno, address), cause: err });
}

interface Opened {
  fd: number;
  address: ListenAddress;
  name: string;
  /** For a Unix socket: the file bound, to remove in close() only if it is still that one. */
  file?: { path: string; dev: bigint; ino: bigint };
}

function openOne(native: ListenAddon, address: ListenAddress, options: ListenOptions): Opened {
  const backlog = options.backlog ?? 4096;
  if (address.kind === 'tcp') {
    const fd = native.listenTcp(address.host, address.port, backlog);
    return { fd, address, name: formatListenAddress({ ...address, port: native.localPort(fd) }) };
  }
  const fd = native.listenUnix(
    address.path, backlog, options.mode ?? 0o666, options.uid ?? -1, options.gid ?? -1,
    options.owner?.uid ?? -1, options.owner?.gid ?? -1,
  );
  const opened: Opened = { fd, address, name: address.path };
  try {
    // lstat as the daemon only reads metadata; a tenant swapping the file in between can only
    // make close() later remove (as the tenant) a socket of the tenant's own.
    const st = lstatSync(address.path, { bigint: true });
    if (st.isSocket()) opened.file = { path: address.path, dev: st.dev, ino: st.ino };
  } catch {
    // already gone: nothing to remove in close()
  }
  return opened;
}

/**
 * Opens a listening socket for each address (see parseListenAddress), in order. Throws an
 * UpkeepError for bad input, a ListenError (with errno) if a socket cannot be opened.
 */
export function openListeners(addresses: readonly string[], options: ListenOptions = {}): Listeners {
  const native = addon();
  if (native === null) {
    throw new UpkeepError('listen-unavailable', 'cannot open listening sockets: the native addon native/listen is not built', {
      hint: 'run `npm run build:native`',
    });
  }
  checkOptions(options);
  const parsed = addresses.map(parseListenAddress);
  const opened: Opened[] = [];
  let cancelWatch: (() => void) | undefined;
  let closed = false;

  const close = (): void => {
    if (closed) return;
    closed = true;
    cancelWatch?.(); // before closing: a watched fd must leave the epoll set first
    for (const { fd, file } of opened) {
      try {
        native.close(fd);
      } catch {
        // already closed by someone else: nothing left to release
      }
      if (file === undefined) continue;
      try {
        native.unlinkSocket(file.path, options.uid ?? -1, options.gid ?? -1, file.dev, file.ino);
      } catch {
        // the directory went away or became unreachable for the user: nothing of ours to remove
      }
    }
  };

  try {
    for (const address of parsed) {
      try {
        opened.push(openOne(native, address, options));
      } catch (err) {
        throw err instanceof TypeError ? err : toListenError(err, address);
      }
    }
  } catch (err) {
    close();
    throw err;
  }

  const onceReadable = (onReadable: (index: number) => void): (() => void) => {
    if (closed) throw new UpkeepError('listen-closed', 'onceReadable() on closed listeners');
    if (cancelWatch !== undefined) throw new UpkeepError('listen-busy', 'onceReadable() while a previous watch is armed', { hint: 'cancel it first' });
    const handles: unknown[] = [];
    let done = false;
    const cancel = (): void => {
      if (done) return;
      done = true;
      for (const handle of handles) native.unwatch(handle);
      if (cancelWatch === cancel) cancelWatch = undefined;
    };
    cancelWatch = cancel;
    try {
      opened.forEach(({ fd }, index) => {
        handles.push(native.watchReadable(fd, () => {
          if (done) return; // two sockets readable in the same loop turn
          cancel();
          onReadable(index);
        }));
      });
    } catch (err) {
      cancel();
      throw new UpkeepError('listen-watch', `cannot watch the listening sockets: ${(err as Error).message}`, { cause: err });
    }
    return cancel;
  };

  return {
    fds: opened.map((o) => o.fd),
    addresses: parsed,
    names: opened.map((o) => o.name),
    env: () => ({ LISTEN_FDS: String(opened.length) }),
    onceReadable,
    close,
  };
}
