/**
 * The listen addresses of `[socket] listen`, as a service file writes them: one parser, used by
 * the validator (so `upkeep check` reports a bad address with file, line and key) and by the
 * socket code that binds it (process/listen-sockets.ts), so the two cannot disagree.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UpkeepError } from '../errors.js';

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

// sun_path holds 108 bytes, the last one the terminating NUL.
const MAX_SOCKET_PATH = 107;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const FORMS = 'expected "host:port", "[ipv6]:port" or an absolute socket path';

function invalid(text: string, detail: string, hint: string = FORMS): UpkeepError {
  return new UpkeepError('listen-address-invalid', `listen address ${JSON.stringify(text)}: ${detail}`, { hint });
}

function parsePort(text: string, port: string): number {
  const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n <= 65535)) throw invalid(text, `port ${JSON.stringify(port)} is not a number from 0 to 65535`, 'e.g. "127.0.0.1:8080"');
  return n;
}

function parseUnix(text: string): ListenAddress {
  if (text.includes('\0')) throw invalid(text, 'a socket path cannot contain a NUL byte');
  if (text.endsWith('/')) throw invalid(text, 'a socket path names a file, not a directory', 'e.g. "/run/app/app.sock"');
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_SOCKET_PATH) {
    throw invalid(text, `a socket path is at most ${MAX_SOCKET_PATH} bytes, this one is ${bytes}`, 'choose a shorter directory');
  }
  return { kind: 'unix', path: text };
}

/**
 * One listen address, as a service file writes it: "127.0.0.1:8080", "localhost:8080",
 * "[::1]:8080", "0.0.0.0:80" / "[::]:80" (every interface) or "/run/app/app.sock". Throws an
 * UpkeepError (code listen-address-invalid) that names the text and the accepted forms.
 */
export function parseListenAddress(text: string): ListenAddress {
  if (typeof text !== 'string' || text === '') throw invalid(String(text), 'empty');
  if (text !== text.trim()) throw invalid(text, 'leading or trailing spaces');
  if (text.startsWith('/')) return parseUnix(text);
  if (text.startsWith('@')) throw invalid(text, 'abstract Unix sockets are not supported', 'use a path such as "/run/app/app.sock"');
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
    if (m === null) throw invalid(text, 'an IPv6 address in brackets must be followed by ":port"', 'e.g. "[::1]:8080"');
    if (!isIPv6(m[1])) throw invalid(text, `${JSON.stringify(m[1])} is not an IPv6 address`);
    return { kind: 'tcp', host: m[1], port: parsePort(text, m[2]) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    if (/^\d+$/.test(text)) throw invalid(text, 'a port alone does not say which interfaces', `write "0.0.0.0:${text}" or "[::]:${text}"`);
    if (text.includes('/')) throw invalid(text, 'a socket path must be absolute', `e.g. "/run/${text}"`);
    throw invalid(text, 'no port');
  }
  const host = text.slice(0, colon);
  if (host.includes(':')) throw invalid(text, 'an IPv6 address needs brackets', 'e.g. "[::1]:8080"');
  if (host.includes('/')) throw invalid(text, 'a socket path must be absolute', `e.g. "/run/${text}"`);
  if (!isIPv4(host) && !HOSTNAME.test(host)) throw invalid(text, `${JSON.stringify(host)} is not an IPv4 address or a host name`);
  return { kind: 'tcp', host, port: parsePort(text, text.slice(colon + 1)) };
}

/** The text parseListenAddress() reads back as the same address. */
export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return address.path;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
