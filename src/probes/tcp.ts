/** TCP health check: connect; with `expect`, the banner must contain the text before the timeout. */
import net from 'node:net';

export function tcpProbe(address: string, expect: string | undefined, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve) => {
    let received = '';
    let settled = false;
    const socket = net.connect({ host, port });
    const finish = (ok: boolean, output: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ok, output });
    };
    const timer = setTimeout(
      () => finish(false, `timed out after ${timeoutMs}ms${received ? `; got ${JSON.stringify(received.slice(0, 80))}` : ''}`),
      timeoutMs,
    );
    socket.once('connect', () => {
      if (expect === undefined) finish(true, `connected to ${address}`);
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (expect !== undefined && received.includes(expect)) finish(true, received.split('\n')[0] ?? '');
      else if (received.length > 65536) finish(false, `no "${expect}" in the first 64 KiB`);
    });
    socket.once('error', (err) => finish(false, `connect ${address}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    socket.once('close', () => finish(false, `closed before "${expect}"; got ${JSON.stringify(received.slice(0, 80))}`));
  });
}

export function splitHostPort(address: string): { host: string; port: number } {
  const m = /^\[(.+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (m === null) throw new Error(`bad address ${address}; use host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}
