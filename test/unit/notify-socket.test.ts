// sd_notify parsing (systemd's rules) and the per-service datagram socket with real senders:
// systemd-notify and a python3 client; the kernel tells the sender's pid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NotifySocket, parseNotify, toNotifyMessage, type NotifyMessage } from '../../src/probes/notify-socket.js';

test('parseNotify: several assignments, later wins, junk ignored; typed fields', () => {
  const map = parseNotify('READY=1\nSTATUS=first\n\nnonsense\nSTATUS=second\nWATCHDOG=trigger\nEXTEND_TIMEOUT_USEC=5000000\nERRNO=x\nX_CUSTOM=1');
  assert.equal(map.get('STATUS'), 'second');
  assert.deepEqual(toNotifyMessage(map), { ready: true, status: 'second', watchdog: 'trigger', extendTimeoutUsec: 5_000_000 });
  assert.deepEqual(toNotifyMessage(parseNotify('WATCHDOG=1\nSTOPPING=1\nRELOADING=1\nMAINPID=42\nERRNO=2\nREADY=0')), {
    watchdog: 'ping',
    stopping: true,
    reloading: true,
    mainPid: 42,
    errno: 2,
  });
});

test('real senders: systemd-notify and python3; sender pid from the kernel; 0600; removed on close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'upkeep-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'svc.sock');
  const got: { msg: NotifyMessage; pid: number | undefined }[] = [];
  const sock = NotifySocket.open(path, (msg, pid) => got.push({ msg, pid }));
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const t0 = Date.now();
  // Async: systemd-notify waits for this process to close its barrier fd (a spawnSync would deadlock).
  const sn = spawn('systemd-notify', ['--ready', '--status=hello'], { env: { ...process.env, NOTIFY_SOCKET: path } });
  await new Promise((r) => sn.once('exit', r));
  // systemd-notify waits (up to 5 s) for the receiver to close the fd of its BARRIER=1 message.
  assert.ok(Date.now() - t0 < 4000, 'the barrier fd was closed by the receiver');
  const py = spawn('python3', ['-c', `import socket,os;s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM);s.sendto(b"WATCHDOG=1\\nSTATUS=x",${JSON.stringify(path)})`]);
  const pyPid = py.pid;
  await new Promise((r) => py.once('exit', r));
  for (let i = 0; i < 50 && !got.some((g) => g.pid === pyPid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(got[0]?.msg, { ready: true, status: 'hello' });
  assert.equal(typeof got[0]?.pid, 'number');
  assert.deepEqual(got.find((g) => g.pid === pyPid)?.msg, { watchdog: 'ping', status: 'x' });
  sock.close();
  sock.close();
  assert.equal(existsSync(path), false);
});
