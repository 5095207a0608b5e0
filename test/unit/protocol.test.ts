/**
 * The control protocol's request validation (src/api/protocol.ts) and the `status` output the
 * daemon renders for a request with a `format` (src/render/status-reply.ts): no sockets here,
 * the socket side is in test/integration/socket.test.ts and native-client.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRequestLine } from '../../src/api/protocol.js';
import { ProtocolError } from '../../src/errors.js';
import { statusOutput, type StatusReply } from '../../src/render/status-reply.js';
import { renderStatus } from '../../src/render/status.js';
import type { StatusEntry } from '../../src/supervisor/supervisor.js';

const parse = (o: unknown) => parseRequestLine(JSON.stringify(o)).request;

test('status takes an optional format of "json" or "text"', () => {
  assert.deepEqual(parse({ cmd: 'status' }), { cmd: 'status' });
  assert.deepEqual(parse({ cmd: 'status', format: 'json' }), { cmd: 'status', format: 'json' });
  assert.deepEqual(parse({ cmd: 'status', format: 'text', names: ['web', '@core'] }), { cmd: 'status', format: 'text', names: ['web', '@core'] });
  assert.deepEqual(parse({ cmd: 'status', format: null }), { cmd: 'status' });
});

test('a status format other than "json" or "text" is a ProtocolError', () => {
  for (const format of ['JSON', '', 'yaml', 1, true, ['json'], { json: true }]) {
    assert.throws(
      () => parse({ cmd: 'status', format }),
      (err: unknown) => err instanceof ProtocolError && err.code === 'protocol-error' && /format must be "json" or "text"/.test(err.message),
      `format ${JSON.stringify(format)}`,
    );
  }
});

test('raw (the text after the reply line, unescaped) is a boolean and needs a format', () => {
  assert.deepEqual(parse({ cmd: 'status', format: 'json', raw: true }), { cmd: 'status', format: 'json', raw: true });
  assert.deepEqual(parse({ cmd: 'status', format: 'text', raw: false }), { cmd: 'status', format: 'text' });
  assert.throws(() => parse({ cmd: 'status', raw: true }), (err: unknown) => err instanceof ProtocolError && /raw needs a format/.test(err.message));
  for (const raw of ['yes', 1, {}]) {
    assert.throws(() => parse({ cmd: 'status', format: 'json', raw }), ProtocolError, `raw ${JSON.stringify(raw)}`);
  }
});

const entry = (name: string): StatusEntry => ({
  name,
  state: 'running',
  desired: 'running',
  enabled: true,
  pid: 1234,
  restarts: 0,
  since: '2026-01-01T00:00:00.000Z',
  nextAttemptAt: null,
  cause: null,
  why: null,
  file: `/srv/${name}.toml`,
  waitingFor: [],
  queued: null,
  held: false,
  tenant: null,
  template: null,
  listening: false,
  status: null,
  health: null,
});

test('status output: --json is the pretty-printed array, text the table, no warning outside safe mode', () => {
  const reply: StatusReply = { daemon: { store: 'ok', configDir: '/srv', pid: 1 }, services: [entry('web'), entry('db')] };
  const now = Date.parse('2026-01-01T00:01:00.000Z');
  assert.deepEqual(statusOutput(reply, 'json', now), { text: JSON.stringify(reply.services, null, 2) });
  assert.deepEqual(statusOutput(reply, 'text', now), { text: renderStatus(reply.services, now) });
  assert.match(statusOutput(reply, 'text', now).text, /^NAME +STATE +PID +RESTARTS +SINCE +DETAIL\nweb +running +1234 +0 +1m00s ago\n/);
});

test('status output: an empty list names the config folder; safe mode adds the warning for stderr', () => {
  const reply: StatusReply = { daemon: { store: 'safe', storeProblem: 'state.db is corrupt', configDir: '/srv', pid: 1 }, services: [] };
  assert.deepEqual(statusOutput(reply, 'text'), { text: 'no services in /srv', warning: 'WARNING: state.db is corrupt' });
  assert.deepEqual(statusOutput(reply, 'json'), { text: '[]', warning: 'WARNING: state.db is corrupt' });
});
