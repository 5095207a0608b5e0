// The native client (bin/upkeep -> native/client) against a stand-in daemon on a real Unix socket,
// to check what a real daemon never sends: the request it writes (names JSON-escaped), how it
// decodes reply strings (every escape, surrogate pairs, lone surrogates), that every malformed or
// unexpected reply falls back to the Node CLI, and how it finds the default socket as a user who
// is not root. Also the sh wrapper, which needs nothing built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nativeBuilt, nodeCli, run, upkeep, WRAPPER } from './native-run.js';

/** What the Node CLI gets (it never sends a format): so a fallback is plain to see. */
const NODE_REPLY = JSON.stringify({ ok: true, result: { daemon: { store: 'ok', configDir: '/from-node-cli', pid: 1 }, services: [] } });
const FELL_BACK = 'no services in /from-node-cli\n';
const NO_NODE = { ...process.env, PATH: '/nonexistent' };

interface FakeDaemon {
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A daemon stand-in: one request line per connection; a format request gets `answer` as it is. */
async function fakeDaemon(path: string, answer: () => string | Buffer): Promise<FakeDaemon> {
  const requests: Record<string, unknown>[] = [];
  const server = net.createServer((socket) => {
    let got = '';
    socket.on('error', () => socket.destroy());
    socket.on('data', (d: Buffer) => {
      got += d.toString('utf8');
      const nl = got.indexOf('\n');
      if (nl < 0) return;
      const request = JSON.parse(got.slice(0, nl)) as Record<string, unknown>;
      requests.push(request);
      socket.end(request.format === undefined ? `${NODE_REPLY}\n` : answer());
    });
  });
  await new Promise<void>((res) => server.listen(path, res));
  chmodSync(path, 0o777);
  return { requests, close: () => new Promise<void>((res) => server.close(() => res())) };
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-native-'));
  chmodSync(dir, 0o755);
  return dir;
}

test('the request: format, names JSON-escaped, the client uid and pid', async (t) => {
  if (!nativeBuilt(t)) return;
  const dir = tempDir();
  const sock = join(dir, 'fake.sock');
  const fake = await fakeDaemon(sock, () => '{"ok":true,"result":{"text":"ok"}}\n');
  t.after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const names = ['a"b', 'c\\d', 'é€😀', 'tab\tx', 'line\nbreak', '\u0001\u001f\u007f', '@grp', 'x/y'];
  const r = await upkeep(['status', ...names, '--json', '--socket', sock], { env: NO_NODE });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ok\n');
  const sent = fake.requests[0] as { client: { uid: unknown; pid: unknown } };
  assert.deepEqual({ ...sent, client: undefined }, { cmd: 'status', format: 'json', raw: true, names, client: undefined });
  assert.equal(sent.client.uid, process.getuid?.());
  assert.ok(Number.isInteger(sent.client.pid) && (sent.client.pid as number) > 0);

  const text = await upkeep(['status', '--socket', sock], { env: NO_NODE });
  assert.equal(text.code, 0, text.stderr);
  assert.deepEqual(Object.keys(fake.requests[1] as object), ['cmd', 'format', 'raw', 'client']);
  assert.equal(fake.requests[1]?.format, 'text');
});

test('reply strings decode as JSON.parse reads them and print as Node writes them', async (t) => {
  if (!nativeBuilt(t)) return;
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cases: { line: string; stdout: string; stderr?: string }[] = [];
  const every = String.raw`q\" b\\ s\/ \b\f\n\r\t \u00e9\u20AC \ud83d\ude00 lone \ud800 \udc00 x\ud83dy \ud83d\ud83d\ude00 nul\u0000 raw é😀`;
  cases.push({ line: `{"ok":true,"result":{"text":"${every}"}}`, stdout: `${JSON.parse(`"${every}"`)}\n` });
  cases.push({ line: String.raw`{"ok":true,"result":{"warning":"WARNING: w\u00e9 \"db\"","text":"t"}}`, stdout: 't\n', stderr: 'WARNING: wé "db"\n' });
  cases.push({ line: String.raw`{"ok":true,"result":{"text":"ends\n"}}`, stdout: 'ends\n' }); // io.out adds no second newline
  cases.push({ line: '{"ok":true,"result":{"text":""}}', stdout: '\n' });
  cases.push({ line: '{"ok":false,"ok":true,"result":{"text":1,"text":"last wins"}}', stdout: 'last wins\n' });
  cases.push({
    line: ' { "result" : { "services" : [ {"a":[1,-2.5e3,0.5E+2,true,null,{},[]]}, "}\\"" ], "text" : "x" } , "ok" : true } \r',
    stdout: 'x\n',
  });
  for (const [i, c] of cases.entries()) {
    const sock = join(dir, `case-${i}.sock`);
    const fake = await fakeDaemon(sock, () => `${c.line}\n`);
    const r = await upkeep(['status', '--socket', sock], { env: NO_NODE });
    await fake.close();
    assert.equal(r.code, 0, `${c.line}: ${r.stderr}`);
    // Node writes a lone surrogate as U+FFFD; Buffer.from does the same.
    assert.ok(r.raw.equals(Buffer.from(c.stdout, 'utf8')), `${c.line}\ngot ${JSON.stringify(r.stdout)}\nwanted ${JSON.stringify(c.stdout)}`);
    assert.equal(r.stderr, c.stderr ?? '', c.line);
  }
});

/** A raw reply: the line with textBytes (or what is given), then the bytes of the text. */
const rawReply = (text: Buffer, result: Record<string, unknown> = { textBytes: text.length }) =>
  Buffer.concat([Buffer.from(`${JSON.stringify({ ok: true, result })}\n`), text]);

test('a raw reply: the text after the line, as many bytes as textBytes says, printed as they are', async (t) => {
  if (!nativeBuilt(t)) return;
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const big = Buffer.from(`${'é😀 "quoted" \\ back\n'.repeat(60_000)}end`); // about 1.6 MB: many reads
  const cases: { reply: Buffer; stdout: Buffer; stderr?: string }[] = [
    { reply: rawReply(Buffer.from('a table\nrow "x" \\ é')), stdout: Buffer.from('a table\nrow "x" \\ é\n') },
    { reply: rawReply(Buffer.from('ends\n')), stdout: Buffer.from('ends\n') },
    { reply: rawReply(Buffer.alloc(0)), stdout: Buffer.from('\n') },
    { reply: rawReply(big), stdout: Buffer.concat([big, Buffer.from('\n')]) },
    { reply: rawReply(Buffer.from('[]'), { warning: 'WARNING: safe', textBytes: 2 }), stdout: Buffer.from('[]\n'), stderr: 'WARNING: safe\n' },
    // Only textBytes bytes are the text; anything after them is not printed.
    { reply: Buffer.concat([rawReply(Buffer.from('abc')), Buffer.from('trailing')]), stdout: Buffer.from('abc\n') },
  ];
  for (const [i, c] of cases.entries()) {
    const sock = join(dir, `raw-${i}.sock`);
    const fake = await fakeDaemon(sock, () => c.reply);
    const r = await upkeep(['status', '--socket', sock], { env: NO_NODE });
    await fake.close();
    assert.equal(r.code, 0, `case ${i}: ${r.stderr}`);
    assert.ok(r.raw.equals(c.stdout), `case ${i}: got ${r.raw.length} bytes, wanted ${c.stdout.length}`);
    assert.equal(r.stderr, c.stderr ?? '', `case ${i}`);
  }
});

test('a malformed or unexpected reply falls back to the Node CLI', async (t) => {
  if (!nativeBuilt(t)) return;
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = (...b: number[]) => Buffer.concat([Buffer.from('{"ok":true,"result":{"text":"'), Buffer.from(b), Buffer.from('"}}\n')]);
  const replies: (string | Buffer)[] = [
    '{"ok":false,"error":{"code":"unknown-service","message":"no service named \\"x\\""}}\n',
    '{"ok":true,"result":{"daemon":{"store":"ok"},"services":[]}}\n', // an old daemon: no text
    '{"ok":true,"result":{"text":5}}\n',
    '{"ok":true,"result":{"text":"t","warning":null}}\n',
    '{"ok":true,"result":{"text":"t","text":null}}\n',
    '{"ok":1,"result":{"text":"t"}}\n',
    '{"result":{"text":"t"}}\n',
    '{"ok":true,"result":"text"}\n',
    '{"ok":true,"result":{"text":"t"}\n',
    '{"ok":true,"result":{"text":"t"}}', // closed without a newline
    '{"ok":true,"result":{"text":"t"}} x\n',
    '{"ok":true,"result":{"text":"t"}}{}\n',
    '{"ok":true,"result":{"text":"\\x"}}\n',
    '{"ok":true,"result":{"text":"\\u12"}}\n',
    '{"ok":true,"result":{"text":"\\u12g4"}}\n',
    '{"ok":true,"result":{"text":"a\tb"}}\n',
    '{"ok":true,"result":{"n":01,"text":"t"}}\n',
    '{"ok":true,"result":{"n":1.,"text":"t"}}\n',
    '{"ok":true,"result":{"n":+1,"text":"t"}}\n',
    '{"ok":true,"result":{"n":tru,"text":"t"}}\n',
    '{"ok":true,"result":{"a":[1,],"text":"t"}}\n',
    '{"ok":true,"result":{"a":{"b":1,},"text":"t"}}\n',
    `{"ok":true,"result":{"deep":${'['.repeat(200)}${']'.repeat(200)},"text":"t"}}\n`,
    bytes(0xff),
    bytes(0xc0, 0xaf), // overlong "/"
    bytes(0xed, 0xa0, 0x80), // a surrogate in UTF-8
    bytes(0xe2, 0x82), // cut short
    '\n',
    'hello\n',
    '',
    rawReply(Buffer.from('abc'), { textBytes: 4 }), // closed before the 4th byte
    rawReply(Buffer.from([0x61, 0xff, 0x62])), // not UTF-8
    rawReply(Buffer.from([0xe2, 0x82, 0xac]), { textBytes: 2 }).subarray(0, -1), // cut inside a character
    rawReply(Buffer.from('abc'), { textBytes: 3, text: 'abc' }), // both
    rawReply(Buffer.from('abc'), { textBytes: -3 }),
    rawReply(Buffer.from('abc'), { textBytes: 2.5 }),
    rawReply(Buffer.from('abc'), { textBytes: '3' }),
    Buffer.from('{"ok":true,"result":{"textBytes":03}}\nabc'),
    Buffer.from('{"ok":true,"result":{"textBytes":3e0}}\nabc'),
    Buffer.from('{"ok":true,"result":{"textBytes":1234567890123456}}\nabc'),
  ];
  for (const [i, reply] of replies.entries()) {
    const sock = join(dir, `case-${i}.sock`);
    const fake = await fakeDaemon(sock, () => reply);
    const r = await upkeep(['status', '--socket', sock]);
    await fake.close();
    const what = JSON.stringify(reply.toString());
    assert.equal(r.stdout, FELL_BACK, `${what}: ${r.stderr}`);
    assert.equal(r.code, 0, what);
    assert.deepEqual(fake.requests.map((q) => q.format), ['text', undefined], `${what}: one request each`);
  }
});

test('the default socket as a user who is not root: their tenant socket, else XDG_RUNTIME_DIR', async (t) => {
  if (!nativeBuilt(t)) return;
  if (process.getuid?.() !== 0) return t.skip('needs root, to run as another user');
  // The name os.userInfo() gives uid 65534 (usually nobody).
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[2] === '65534');
  if (entry === undefined) return t.skip('no user with uid 65534 in /etc/passwd');
  const user = entry.split(':')[0] as string;
  const dir = tempDir();
  mkdirSync(join(dir, 'tenants'), { mode: 0o755 });
  mkdirSync(join(dir, 'xdg', 'upkeep'), { recursive: true, mode: 0o755 });
  const tenantSock = join(dir, 'tenants', `${user}.sock`);
  const xdgSock = join(dir, 'xdg', 'upkeep', 'upkeep.sock');
  const tenant = await fakeDaemon(tenantSock, () => '{"ok":true,"result":{"text":"tenant socket"}}\n');
  const xdg = await fakeDaemon(xdgSock, () => '{"ok":true,"result":{"text":"runtime socket"}}\n');
  t.after(async () => {
    await tenant.close();
    await xdg.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const as = { uid: 65534, gid: 65534 };
  // path.join normalizes: "missing/.." goes although `missing` does not exist, "//" and "./" too.
  const env = { PATH: process.env.PATH, UPKEEP_SOCKET: '', UPKEEP_TENANT_DIR: `${dir}//tenants/./missing/../`, XDG_RUNTIME_DIR: `${dir}/xdg/` };
  const viaTenant = await upkeep(['status'], { ...as, env: { ...env, PATH: '/nonexistent' } });
  assert.equal(viaTenant.stdout, 'tenant socket\n', viaTenant.stderr);
  const nodeTenant = await nodeCli(['status'], { ...as, env });
  assert.equal(nodeTenant.stdout, FELL_BACK, `the Node CLI finds the same socket: ${nodeTenant.stderr}`);
  assert.equal(tenant.requests.length, 2);

  const noTenant = { ...env, UPKEEP_TENANT_DIR: join(dir, 'elsewhere') };
  const viaRuntime = await upkeep(['status', '--json'], { ...as, env: { ...noTenant, PATH: '/nonexistent' } });
  assert.equal(viaRuntime.stdout, 'runtime socket\n', viaRuntime.stderr);
  const nodeRuntime = await nodeCli(['status', '--json'], { ...as, env: noTenant });
  assert.equal(nodeRuntime.stdout, '[]\n', `the Node CLI finds the same socket: ${nodeRuntime.stderr}`);
  assert.equal(xdg.requests.length, 2);
});

test('bin/upkeep runs the native client when it is built, else the Node CLI, through symlinks', async (t) => {
  const dir = tempDir();
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, 'pkg', 'bin');
  mkdirSync(bin, { recursive: true });
  copyFileSync(WRAPPER, join(bin, 'upkeep'));
  chmodSync(join(bin, 'upkeep'), 0o755);
  writeFileSync(join(bin, 'upkeep.js'), 'console.log(JSON.stringify(["node cli", ...process.argv.slice(2)]));\n');
  mkdirSync(join(dir, 'links'));
  symlinkSync(join(bin, 'upkeep'), join(dir, 'links', 'upkeep'));
  symlinkSync(join(dir, 'links', 'upkeep'), join(dir, 'links', 'again'));
  const args = ['status', 'a b', '--json', ''];

  for (const entry of [join(bin, 'upkeep'), join(dir, 'links', 'again')]) {
    const r = await run(entry, args);
    assert.deepEqual(JSON.parse(r.stdout), ['node cli', ...args], `${entry}: ${r.stderr}`);
  }
  const release = join(dir, 'pkg', 'native', 'client', 'build', 'Release');
  mkdirSync(release, { recursive: true });
  writeFileSync(join(release, 'upkeep'), '#!/bin/sh\nfor a in "$@"; do printf "[%s]" "$a"; done\n');
  chmodSync(join(release, 'upkeep'), 0o755);
  for (const entry of [join(bin, 'upkeep'), join(dir, 'links', 'again')]) {
    const r = await run(entry, args);
    assert.equal(r.stdout, '[status][a b][--json][]', `${entry}: ${r.stderr}`);
  }
});
