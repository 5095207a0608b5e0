/**
 * The client side of the control protocol, used by the CLI: connect, send one request, read the
 * reply and (for follow requests) the items after it.
 */
import net from 'node:net';
import { userInfo } from 'node:os';
import { UpkeepError } from '../errors.js';
import type { Reply, Request } from './protocol.js';

export interface CallOptions {
  socketPath: string;
  /** Called for each streamed item of a following request; the call then ends with the connection. */
  onItem?(item: unknown): void;
  /** Called with the reply as soon as it arrives (a following call resolves only at the end). */
  onReply?(result: unknown): void;
  timeoutMs?: number;
}

export function call(request: Request, options: CallOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(options.socketPath);
    let buffered = '';
    let replied = false;
    let result: unknown;
    const fail = (err: Error) => {
      socket.destroy();
      reject(err);
    };
    if (options.timeoutMs !== undefined) {
      socket.setTimeout(options.timeoutMs, () =>
        fail(new UpkeepError('timeout', `the daemon did not answer within ${options.timeoutMs}ms on ${options.socketPath}`)),
      );
    }
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (replied) {
        resolve(result);
        return;
      }
      fail(connectError(err, options.socketPath));
    });
    socket.once('connect', () => {
      socket.write(JSON.stringify({ ...request, client: clientInfo() }) + '\n');
    });
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      buffered += data;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const msg = JSON.parse(line) as Reply | { item: unknown };
        if ('item' in msg) {
          options.onItem?.(msg.item);
          continue;
        }
        if (!msg.ok) {
          fail(new UpkeepError(msg.error.code, msg.error.message, { hint: msg.error.hint }));
          return;
        }
        replied = true;
        result = msg.result;
        options.onReply?.(result);
        if (options.onItem === undefined) {
          socket.end();
          resolve(result);
          return;
        }
        socket.setTimeout(0);
      }
    });
    socket.once('close', () => {
      if (replied) resolve(result);
      else fail(new UpkeepError('disconnected', `the daemon closed the connection on ${options.socketPath} without an answer`));
    });
  });
}

function clientInfo(): { uid?: number; pid: number; user?: string } {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  return { uid: process.getuid?.(), pid: process.pid, user };
}

function connectError(err: NodeJS.ErrnoException, socketPath: string): UpkeepError {
  if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
    return new UpkeepError('no-daemon', `no upkeep daemon is listening on ${socketPath}`, {
      hint: 'start one with `upkeep daemon` (or `upkeep up DIR`), or point at it with --socket or UPKEEP_SOCKET',
    });
  }
  if (err.code === 'EACCES') {
    return new UpkeepError('permission-denied', `not allowed to connect to ${socketPath}`, {
      hint: 'the control socket is private to its owner; use your own socket or run as its owner',
    });
  }
  return new UpkeepError('connect-failed', `cannot connect to ${socketPath}: ${err.message}`);
}
