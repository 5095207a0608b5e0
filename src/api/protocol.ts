/**
 * The control protocol between the CLI (and later the dashboard) and the daemon: one JSON object
 * per line over a Unix stream socket. A request gets exactly one reply line, `{ok: true, result}`
 * or `{ok: false, error: {code, message, hint}}`; a following request (`follow: true`) gets
 * `{item}` lines after its reply until the client disconnects.
 *
 * Everything arriving on the socket is validated here, once, before any handler sees it.
 */
import { ProtocolError } from '../errors.js';
import type { StatusFormat } from '../render/status-reply.js';

export type TargetCommand = 'start' | 'stop' | 'restart';

export type Request =
  | { cmd: 'ping' }
  /**
   * With a format, the reply carries what `upkeep status` prints (`text`, `warning`) instead of the
   * services; with `raw` besides, the reply line has `textBytes` instead of `text`, and exactly that
   * many bytes of UTF-8 text follow the line (no JSON escaping on either side: the native client).
   */
  | { cmd: 'status'; names?: string[]; format?: StatusFormat; raw?: boolean }
  | { cmd: TargetCommand; names: string[]; reason?: string; wait?: boolean }
  | { cmd: 'enable' | 'disable'; names: string[] }
  | { cmd: 'reload' }
  | { cmd: 'why'; name: string; limit?: number }
  | { cmd: 'events'; name?: string; since?: number; limit?: number; follow?: boolean }
  | { cmd: 'logs'; name: string; lines?: number; follow?: boolean };

/** What the client says about itself; the daemon trusts the kernel's peer credentials first. */
export interface ClientInfo {
  uid?: number;
  pid?: number;
  user?: string;
}

export interface Envelope {
  request: Request;
  client: ClientInfo;
}

export type Reply =
  | { ok: true; result: unknown }
  | { ok: false; error: { code: string; message: string; hint?: string } };

export const MAX_LINE_BYTES = 1024 * 1024;

const COMMANDS = ['ping', 'status', 'start', 'stop', 'restart', 'enable', 'disable', 'reload', 'why', 'events', 'logs'];

export function parseRequestLine(line: string): Envelope {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new ProtocolError('request is not valid JSON', { hint: 'send one JSON object per line' });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ProtocolError('request must be a JSON object');
  }
  const o = raw as Record<string, unknown>;
  if (typeof o.cmd !== 'string' || !COMMANDS.includes(o.cmd)) {
    throw new ProtocolError(`unknown command ${JSON.stringify(o.cmd)}`, { hint: `one of ${COMMANDS.join(', ')}` });
  }
  return { request: toRequest(o.cmd, o), client: toClient(o.client) };
}

function toRequest(cmd: string, o: Record<string, unknown>): Request {
  switch (cmd) {
    case 'ping':
    case 'reload':
      return { cmd };
    case 'status': {
      const format = optionalFormat(o.format);
      const raw = optionalBoolean(o.raw, 'raw');
      if (raw === true && format === undefined) throw new ProtocolError('raw needs a format', { hint: 'send format "json" or "text" with raw' });
      return {
        cmd,
        ...(o.names === undefined ? {} : { names: stringArray(o.names, 'names') }),
        ...(format === undefined ? {} : { format }),
        ...(raw === true ? { raw } : {}),
      };
    }
    case 'start':
    case 'stop':
    case 'restart':
      return {
        cmd,
        names: nonEmpty(stringArray(o.names, 'names'), 'names'),
        reason: optionalString(o.reason, 'reason'),
        wait: optionalBoolean(o.wait, 'wait'),
      };
    case 'enable':
    case 'disable':
      return { cmd, names: nonEmpty(stringArray(o.names, 'names'), 'names') };
    case 'why':
      return { cmd, name: requiredString(o.name, 'name'), limit: optionalCount(o.limit, 'limit') };
    case 'events':
      return {
        cmd,
        name: optionalString(o.name, 'name'),
        since: optionalCount(o.since, 'since'),
        limit: optionalCount(o.limit, 'limit'),
        follow: optionalBoolean(o.follow, 'follow'),
      };
    case 'logs':
      return {
        cmd,
        name: requiredString(o.name, 'name'),
        lines: optionalCount(o.lines, 'lines'),
        follow: optionalBoolean(o.follow, 'follow'),
      };
    default:
      throw new ProtocolError(`unknown command ${JSON.stringify(cmd)}`);
  }
}

function toClient(v: unknown): ClientInfo {
  if (v === null || typeof v !== 'object') return {};
  const o = v as Record<string, unknown>;
  const client: ClientInfo = {};
  if (Number.isInteger(o.uid)) client.uid = o.uid as number;
  if (Number.isInteger(o.pid)) client.pid = o.pid as number;
  if (typeof o.user === 'string' && o.user.length <= 256) client.user = o.user;
  return client;
}

function stringArray(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x.length > 0 && x.length <= 512)) {
    throw new ProtocolError(`${field} must be an array of service names`);
  }
  return v as string[];
}

function nonEmpty(v: string[], field: string): string[] {
  if (v.length === 0) throw new ProtocolError(`${field} must name at least one service`);
  return v;
}

function requiredString(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 512) throw new ProtocolError(`${field} must be a non-empty string`);
  return v;
}

function optionalString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > 4096) throw new ProtocolError(`${field} must be a string`);
  return v;
}

function optionalFormat(v: unknown): StatusFormat | undefined {
  if (v === undefined || v === null) return undefined;
  if (v !== 'json' && v !== 'text') throw new ProtocolError(`format must be "json" or "text", got ${JSON.stringify(v)}`);
  return v;
}

function optionalBoolean(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ProtocolError(`${field} must be true or false`);
  return v;
}

function optionalCount(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ProtocolError(`${field} must be a non-negative number`);
  return v;
}
