// Health probes against real servers on loopback and real processes: pass, fail, time out, and
// a hanging check never outlives its timeout. Everything started here is closed in after().
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HealthSpec } from '../../src/config/spec.js';
import { groupAlive } from '../../src/process/identity.js';
import { runProbe } from '../../src/probes/probe.js';
import { splitHostPort } from '../../src/probes/tcp.js';

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
const pgids: number[] = [];
after(() => {
  for (const s of sockets) s.destroy();
  for (const s of servers) {
    if (s instanceof http.Server) s.closeAllConnections();
    s.close();
  }
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, 'SIGKILL'); // by process group, in case an assertion failed before the probe's kill
    } catch {
      // ESRCH: already gone, as expected
    }
  }
});

async function listen<T extends net.Server>(server: T, host = '127.0.0.1'): Promise<number> {
  servers.push(server);
  server.on('connection', (c: net.Socket) => {
    sockets.add(c);
    c.on('error', () => undefined).on('close', () => sockets.delete(c));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, () => resolve()));
  return (server.address() as AddressInfo).port;
}

const ctx = { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, directory: tmpdir() };
const h = (fields: Partial<HealthSpec>): HealthSpec => ({ intervalMs: 1000, timeoutMs: 2000, failures: 3, successes: 1, graceMs: 0, ...fields });

test('tcp: addresses parse for IPv4, [IPv6] and hostnames; junk is refused', () => {
  assert.deepEqual(splitHostPort('127.0.0.1:22'), { host: '127.0.0.1', port: 22 });
  assert.deepEqual(splitHostPort('[::1]:22'), { host: '::1', port: 22 });
  assert.deepEqual(splitHostPort('db.internal:5432'), { host: 'db.internal', port: 5432 });
  for (const bad of ['::1:22', 'host', 'host:0', 'host:70000', ':80']) assert.throws(() => splitHostPort(bad), /bad tcp address/);
});

test('tcp: a connect passes; a refused port fails with the errno', async () => {
  const open = await listen(net.createServer());
  const ok = await runProbe(h({ tcp: `127.0.0.1:${open}` }), ctx);
  assert.equal(ok.ok, true);
  assert.ok(ok.latencyMs >= 0);
  const closed = net.createServer();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  const refused = await runProbe(h({ tcp: `127.0.0.1:${closedPort}` }), ctx);
  assert.equal(refused.ok, false);
  assert.match(refused.output, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`));
});

test('tcp: expect passes on a matching banner and shows what it got on a mismatch', async () => {
  const port = await listen(net.createServer((c) => c.end('SSH-2.0-test\r\n')));
  const ok = await runProbe(h({ tcp: `127.0.0.1:${port}`, expect: 'SSH-' }), ctx);
  assert.deepEqual([ok.ok, ok.output], [true, 'SSH-2.0-test']);
  const wrong = await runProbe(h({ tcp: `127.0.0.1:${port}`, expect: 'HTTP/' }), ctx);
  assert.equal(wrong.ok, false);
  assert.match(wrong.output, /SSH-2\.0-test/, 'shows what it got');
});

test('tcp: a peer that accepts and never writes times out within the timeout', async () => {
  const port = await listen(net.createServer(() => undefined));
  const t0 = performance.now();
  const hung = await runProbe(h({ tcp: `127.0.0.1:${port}`, expect: 'SSH-', timeoutMs: 300 }), ctx);
  const elapsed = performance.now() - t0;
  assert.equal(hung.ok, false);
  assert.match(hung.output, /timed out after 300ms/);
  assert.ok(elapsed < 300 + 500, `returned after ${elapsed} ms`);
});

test('tcp: [::1] works where the host has IPv6 loopback', async (t) => {
  let port: number;
  try {
    port = await listen(net.createServer(), '::1');
  } catch {
    return t.skip('no IPv6 loopback');
  }
  assert.equal((await runProbe(h({ tcp: `[::1]:${port}` }), ctx)).ok, true);
});

test('http: 2xx and 3xx pass (redirects not followed), 5xx fails, body text, no answer times out', async () => {
  const port = await listen(
    http.createServer((req, res) => {
      if (req.url === '/ok') res.end('all good');
      else if (req.url === '/moved') res.writeHead(302, { location: '/down' }).end();
      else if (req.url === '/hang') return;
      else res.writeHead(503).end('down');
    }),
  );
  const url = (path: string) => `http://127.0.0.1:${port}${path}`;
  const ok = await runProbe(h({ http: url('/ok') }), ctx);
  assert.deepEqual([ok.ok, ok.output], [true, 'HTTP 200 OK']);
  const moved = await runProbe(h({ http: url('/moved') }), ctx);
  assert.deepEqual([moved.ok, moved.output], [true, 'HTTP 302 Found'], 'the 302 itself counts, not the 503 it points to');
  const bad = await runProbe(h({ http: url('/down') }), ctx);
  assert.deepEqual([bad.ok, bad.output], [false, 'HTTP 503 Service Unavailable']);
  assert.equal((await runProbe(h({ http: url('/ok'), expect: 'good' }), ctx)).ok, true);
  const lacks = await runProbe(h({ http: url('/ok'), expect: 'great' }), ctx);
  assert.equal(lacks.ok, false);
  assert.match(lacks.output, /lacks "great".*all good/);
  const t0 = performance.now();
  const hung = await runProbe(h({ http: url('/hang'), timeoutMs: 300 }), ctx);
  assert.equal(hung.ok, false);
  assert.match(hung.output, /timed out after 300ms/);
  assert.ok(performance.now() - t0 < 300 + 500);
});

test('http: a refused port and a malformed URL fail without throwing', async () => {
  const closed = net.createServer();
  const closedPort = await listen(closed);
  await new Promise((r) => closed.close(r));
  const refused = await runProbe(h({ http: `http://127.0.0.1:${closedPort}/` }), ctx);
  assert.equal(refused.ok, false);
  assert.match(refused.output, /ECONNREFUSED/);
  assert.equal((await runProbe(h({ http: 'not a url' }), ctx)).ok, false);
});

test('exec: exit 0 passes, exit 3 fails with its last stderr line, a missing program fails with ENOENT', async () => {
  assert.equal((await runProbe(h({ exec: ['true'] }), ctx)).ok, true);
  const three = await runProbe(h({ exec: ['sh', '-c', 'echo checking; echo first >&2; echo disk full >&2; exit 3'] }), ctx);
  assert.deepEqual([three.ok, three.output], [false, 'exit code 3: disk full']);
  const missing = await runProbe(h({ exec: ['no-such-check-xyz'] }), ctx);
  assert.equal(missing.ok, false);
  assert.match(missing.output, /ENOENT/);
});

test('exec: a hanging check is killed at the timeout with its whole process group', async () => {
  const pidFile = join(tmpdir(), `upkeep-probe-${process.pid}`);
  // The group leader execs `sleep 30`; a second sleep in the background shares its group.
  const command = ['sh', '-c', `sleep 30 & echo $$ > ${pidFile}; exec sleep 30`];
  const t0 = performance.now();
  const hung = await runProbe(h({ exec: command, timeoutMs: 300 }), ctx);
  const elapsed = performance.now() - t0;
  const pgid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile);
  pgids.push(pgid);
  assert.deepEqual([hung.ok, hung.output], [false, 'timed out after 300ms']);
  assert.ok(elapsed < 300 + 500, `returned after ${elapsed} ms`);
  // Zombies count as gone (the orphaned background sleep waits for PID 1 to reap it).
  for (let i = 0; i < 20 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(groupAlive(pgid), false, 'the check and everything in its group are gone');
});
