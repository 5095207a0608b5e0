/**
 * The control socket: a Unix stream socket, mode 0600, one JSON request per line. It never lets a
 * client hurt the daemon: garbage gets an error reply, an over-long line closes that connection,
 * and a client that disconnects mid-request is simply dropped (writes to it are ignored).
 */
import { chmodSync, lchownSync, mkdirSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { errorShape, UpkeepError } from '../errors.js';
import { MAX_LINE_BYTES, parseRequestLine, type Envelope } from './protocol.js';

export interface Connection {
  /** Kernel-verified credentials of the peer, where the platform gives them. */
  readonly peer: { pid: number; uid: number; gid: number } | undefined;
  readonly socketPath: string;
  reply(result: unknown): void;
  /** The reply line with `textBytes` (the UTF-8 length of `text`), then `text` itself, unescaped. */
  replyWithText(result: Record<string, unknown>, text: string): void;
  /** One more item of a following request. */
  push(item: unknown): void;
  /** Called when the client goes away; used to end subscriptions. */
  onClose(fn: () => void): void;
  readonly closed: boolean;
}

export type Handler = (envelope: Envelope, conn: Connection) => Promise<void> | void;

export interface ServerOptions {
  socketPath: string;
  handler: Handler;
  peerCredentials?(socket: net.Socket): { pid: number; uid: number; gid: number } | undefined;
  onError?(err: Error): void;
  /**
   * A tenant's socket: handed to the tenant (mode 0600, owned by them). The folder it lives in
   * must be writable by root only, so that the chown cannot be redirected by a planted link.
   */
  owner?: { uid: number; gid: number };
  /** Peers (by kernel credentials) allowed to talk; others get one error and are disconnected. */
  allowedUids?: readonly number[];
}

export interface ControlServer {
  /** Stops listening and ends every open connection (followers included), then resolves. */
  close(): Promise<void>;
}

export async function listen(options: ServerOptions): Promise<ControlServer> {
  const { socketPath } = options;
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
  await refuseIfLive(socketPath);
  const open = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    serve(socket, options);
  });
  server.on('error', (err) => options.onError?.(err));
  // Create the socket already private: the umask closes the window between bind and chmod.
  const oldMask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(oldMask);
  }
  chmodSync(socketPath, 0o600);
  if (options.owner !== undefined) lchownSync(socketPath, options.owner.uid, options.owner.gid);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        // server.close() waits for every connection to end; an `events --follow` never does.
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

/** A socket file that answers belongs to a running daemon: never steal it. A dead one is removed. */
async function refuseIfLive(socketPath: string): Promise<void> {
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) {
    throw new UpkeepError('daemon-running', `another upkeep daemon is already listening on ${socketPath}`, {
      hint: 'stop it first, or give this one its own --socket and --state',
    });
  }
  try {
    unlinkSync(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function serve(socket: net.Socket, options: ServerOptions): void {
  let buffered = '';
  let closed = false;
  const closers: (() => void)[] = [];
  let peer: Connection['peer'];
  try {
    peer = options.peerCredentials?.(socket);
  } catch {
    peer = undefined;
  }
  const send = (obj: unknown) => {
    if (closed || socket.destroyed) return;
    socket.write(JSON.stringify(obj) + '\n');
  };
  // Mode 0600 already keeps others out; this holds even if someone loosens the mode.
  if (options.allowedUids !== undefined && (peer === undefined || !options.allowedUids.includes(peer.uid))) {
    send({ ok: false, error: { code: 'forbidden', message: `this socket belongs to another user (uid ${peer?.uid ?? 'unknown'})` } });
    socket.end();
    return;
  }
  const conn: Connection = {
    peer,
    socketPath: options.socketPath,
    reply: (result) => send({ ok: true, result }),
    replyWithText: (result, text) => {
      send({ ok: true, result: { ...result, textBytes: Buffer.byteLength(text) } });
      if (!closed && !socket.destroyed) socket.write(text);
    },
    push: (item) => send({ item }),
    onClose: (fn) => closers.push(fn),
    get closed() {
      return closed;
    },
  };
  const close = () => {
    if (closed) return;
    closed = true;
    for (const fn of closers.splice(0)) fn();
  };
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy()); // EPIPE/ECONNRESET from a client that left
  socket.on('close', close);
  socket.on('data', (data: string) => {
    buffered += data;
    if (buffered.length > MAX_LINE_BYTES && !buffered.includes('\n')) {
      send({ ok: false, error: { code: 'protocol-error', message: `request longer than ${MAX_LINE_BYTES} bytes` } });
      socket.end();
      buffered = '';
      return;
    }
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line.length > 0) void handleLine(line, conn, options, send);
    }
  });
}

async function handleLine(
  line: string,
  conn: Connection,
  options: ServerOptions,
  send: (obj: unknown) => void,
): Promise<void> {
  try {
    const envelope = parseRequestLine(line);
    await options.handler(envelope, conn);
  } catch (err) {
    send({ ok: false, error: errorShape(err) });
    if (!(err instanceof UpkeepError)) options.onError?.(err as Error);
  }
}
