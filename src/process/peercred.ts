/**
 * Who is on the other end of a Unix socket: pid, uid and gid of the peer, as the kernel recorded
 * them at connect() time (SO_PEERCRED, Linux). The API server uses this to record which uid sent
 * an admin command. Node has no API for it, so it comes from the project's own addon,
 * native/peercred (built by `npm install` / `npm run build:native`).
 * Invariants:
 * - Never throws and never logs: a missing addon or a failed call is `undefined`, and the caller
 *   decides whether that matters (peerCredentialsAvailable() tells it why up front).
 * - The addon is loaded once, lazily, on first use.
 */
import { loadAddon } from './native-addon.js';
import type * as net from 'node:net';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

interface PeercredAddon {
  peercred(fd: number): PeerCredentials;
}

function addon(): PeercredAddon | null {
  return loadAddon<PeercredAddon>('peercred', (m) => typeof m.peercred === 'function');
}

/** Whether the native addon loaded, i.e. whether peerCredentials() can ever succeed. */
export function peerCredentialsAvailable(): boolean {
  return addon() !== null;
}

/**
 * The peer's credentials for a connected Unix-domain socket, or undefined when the addon is
 * missing, the socket is not (or no longer) connected, or it is not a Unix socket.
 */
export function peerCredentials(socket: net.Socket): PeerCredentials | undefined {
  const native = addon();
  if (native === null) return undefined;
  // Node exposes no public fd for a net.Socket: the descriptor lives on the internal libuv
  // handle (Pipe for Unix sockets), which is `_handle` with a numeric `fd` on Unix. It is gone
  // (null handle, or fd -1) once the socket is destroyed.
  const fd: unknown = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) return undefined;
  try {
    return native.peercred(fd);
  } catch {
    return undefined;
  }
}
