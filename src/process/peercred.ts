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
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as net from 'node:net';

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

interface PeercredAddon {
  peercred(fd: number): PeerCredentials;
}

const ADDON = path.join('native', 'peercred', 'build', 'Release', 'peercred.node');

/**
 * Finds the addon by walking up from this file to the first directory holding it. This file runs
 * as dist/src/process/peercred.js (three levels below the repo root) but also from src/ under a
 * TS loader, so a fixed number of '..' would be wrong in one of them.
 */
function findAddon(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, ADDON);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// undefined: not tried yet; null: tried and failed.
let addon: PeercredAddon | null | undefined;

function loadAddon(): PeercredAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const file = findAddon();
    if (file !== undefined) {
      const loaded = createRequire(import.meta.url)(file) as Partial<PeercredAddon>;
      if (typeof loaded.peercred === 'function') addon = loaded as PeercredAddon;
    }
  } catch {
    // Built for another platform or ABI, or unreadable: treated as absent.
  }
  return addon;
}

/** Whether the native addon loaded, i.e. whether peerCredentials() can ever succeed. */
export function peerCredentialsAvailable(): boolean {
  return loadAddon() !== null;
}

/**
 * The peer's credentials for a connected Unix-domain socket, or undefined when the addon is
 * missing, the socket is not (or no longer) connected, or it is not a Unix socket.
 */
export function peerCredentials(socket: net.Socket): PeerCredentials | undefined {
  const native = loadAddon();
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
