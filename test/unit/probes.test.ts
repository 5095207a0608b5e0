// Health probes against real servers on loopback and real processes: pass, fail, time out, and
// a hanging check never outlives its timeout.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { HealthSpec } from '../../src/config/spec.js';
import { runProbe } from '../../src/probes/probe.js';

const servers: (net.Server | http.Server)[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function listen<T extends net.Server>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

const ctx = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, directory: '/tmp' };
const h = (fields: Partial<HealthSpec>): HealthSpec => ({ intervalMs: 1000, timeoutMs: 500, failures: 3, successes: 1, graceMs: 0, ...fields });

test('tcp: connect passes, refused fails, banner must match, silence times out', async () => {
  const banner = await listen(net.createServer((c) => c.on('error', () => undefined).end('SSH-2.0-test\r\n')));
  const silent = await listen(net.createServer((c) => void c.on('error', () => undefined)));
  const closed = net.createServer();
  const closedPort = await listen(closed);
  closed.close();
  assert.equal((await runProbe(h({ tcp: `127.0.0.1:${banner}` }), ctx)).ok, true);
  assert.equal((await runProbe(h({ tcp: `127.0.0.1:${banner}`, expect: 'SSH-' }), ctx)).ok, true);
  const wrong = await runProbe(h({ tcp: `127.0.0.1:${banner}`, expect: 'HTTP/' }), ctx);
  assert.equal(wrong.ok, false);
  assert.match(wrong.output, /SSH-2\.0-test/, 'shows what it got');
  const refused = await runProbe(h({ tcp: `127.0.0.1:${closedPort}` }), ctx);
  assert.equal(refused.ok, false);
  assert.match(refused.output, /ECONNREFUSED/);
  const t0 = Date.now();
  const hung = await runProbe(h({ tcp: `127.0.0.1:${silent}`, expect: 'SSH-', timeoutMs: 200 }), ctx);
  assert.equal(hung.ok, false);
  assert.match(hung.output, /timed out after 200ms/);
  assert.ok(Date.now() - t0 < 2000);
});

test('http: 2xx and 3xx pass, 5xx fails, body text, no answer times out', async () => {
  const port = await listen(
    http.createServer((req, res) => {
      if (req.url === '/ok') res.end('all good');
      else if (req.url === '/moved') res.writeHead(302, { location: '/ok' }).end();
      else if (req.url === '/hang') return;
      else res.writeHead(503).end('down');
    }),
  );
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  assert.equal((await runProbe(h({ http: url('/ok'), expect: 'good' }), ctx)).ok, true);
  assert.equal((await runProbe(h({ http: url('/moved') }), ctx)).ok, true);
  const bad = await runProbe(h({ http: url('/down') }), ctx);
  assert.equal(bad.ok, false);
  assert.match(bad.output, /HTTP 503/);
  assert.equal((await runProbe(h({ http: url('/ok'), expect: 'great' }), ctx)).ok, false);
  const hung = await runProbe(h({ http: url('/hang'), timeoutMs: 200 }), ctx);
  assert.equal(hung.ok, false);
  assert.match(hung.output, /timed out/);
});

test('exec: exit 0 passes, exit 3 fails with its output, a missing program fails, a hang is killed', async () => {
  assert.equal((await runProbe(h({ exec: ['true'] }), ctx)).ok, true);
  const three = await runProbe(h({ exec: ['sh', '-c', 'echo disk full >&2; exit 3'] }), ctx);
  assert.equal(three.ok, false);
  assert.match(three.output, /exit code 3: disk full/);
  const missing = await runProbe(h({ exec: ['no-such-check-xyz'] }), ctx);
  assert.equal(missing.ok, false);
  assert.match(missing.output, /ENOENT/);
  const pidFile = `/tmp/upkeep-probe-${process.pid}`;
  const hung = await runProbe(h({ exec: ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`], timeoutMs: 300 }), ctx);
  assert.equal(hung.ok, false);
  assert.match(hung.output, /timed out after 300ms/);
  const { readFileSync, rmSync } = await import('node:fs');
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile);
  await new Promise((r) => setTimeout(r, 100));
  assert.throws(() => process.kill(-pid, 0), /ESRCH/, 'the hanging check and its group are gone');
});
