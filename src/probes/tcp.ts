/**
 * TCP health check. Owns one connection per probe: connect to `host:port` (IPv4, `[IPv6]:port`,
 * or a hostname); without `expect` a completed connect is healthy, with `expect` the text the
 * peer sends must contain it before the timeout. Invariants: the socket is destroyed on every
 * outcome, the promise never rejects once the address parsed, and at most 64 KiB is buffered.
 */
import net from 'node:net';

/** A banner longer than this without the text counts as a mismatch; memory stays bounded. */
const MAX_RECEIVED = 64 * 1024;
/** How much of what was received an output shows: enough to recognise a wrong protocol. */
const SHOWN = 80;

export function tcpProbe(address: string, expect: string | undefined, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    let received = '';
    let settled = false;
    const got = () => (received ? `; got ${JSON.stringify(received.slice(0, SHOWN))}` : '; got nothing');
    const finish = (ok: boolean, output: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, output });
    };
    const socket = net.connect({ host, port });
    // One timer covers name lookup, connect and the banner, so a probe never outlives its timeout.
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs}ms${expect === undefined ? '' : got()}`), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => {
      if (expect === undefined) finish(true, `connected to ${address}`);
    });
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (expect === undefined) return;
      const at = received.indexOf(expect);
      if (at >= 0) finish(true, lineAt(received, at) || `got ${JSON.stringify(expect)}`);
      else if (received.length > MAX_RECEIVED) finish(false, `no ${JSON.stringify(expect)} in the first 64 KiB${got()}`);
    });
    // err.message reads like `connect ECONNREFUSED 127.0.0.1:9` or `getaddrinfo ENOTFOUND db`.
    socket.once('error', (err) => finish(false, err.message));
    socket.once('close', () => finish(false, `closed before ${JSON.stringify(expect)}${got()}`));
  });
}

/** `host:port`, `[v6]:port`; a bare IPv6 address is refused because its last colon is ambiguous. */
export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(address) ?? /^([^:[\]]+):(\d{1,5})$/.exec(address);
  const port = Number(m?.[2]);
  if (m === null || port < 1 || port > 65535) {
    throw new Error(`bad tcp address ${JSON.stringify(address)}; use host:port or [ipv6]:port`);
  }
  return { host: m[1] as string, port };
}

/** The line holding position `at`: what a healthy probe shows (`SSH-2.0-OpenSSH_9.6`). */
function lineAt(text: string, at: number): string {
  const start = text.lastIndexOf('\n', at) + 1;
  const end = text.slice(at).search(/[\r\n]/);
  return text.slice(start, end < 0 ? undefined : at + end);
}
