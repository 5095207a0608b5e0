/** why NAME: the current state, what it is waiting for, and the last changes with their causes. */
import { call } from '../../api/client.js';
import { describeCause } from '../../supervisor/causes.js';
import type { StatusEntry } from '../../supervisor/supervisor.js';
import type { EventRecord } from '../../store/types.js';
import { parse, UsageError } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';
import { renderEvent } from '../../render/status.js';
import { ago, clock, inFuture } from '../../render/time.js';

export async function why(args: string[], io: Io): Promise<number> {
  const usage = 'upkeep why NAME [-n N] [--json]';
  const { values, positionals } = parse(args, { n: { type: 'string', short: 'n' } }, usage);
  if (positionals.length !== 1) throw new UsageError('why takes exactly one service name', `usage: ${usage}`);
  const limit = values.n === undefined ? 15 : Number(values.n);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`-n must be a positive whole number, got "${values.n}"`);
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const reply = (await call({ cmd: 'why', name: positionals[0] as string, limit }, { socketPath })) as {
    status: StatusEntry;
    events: EventRecord[];
  };
  if (values.json) {
    io.out(JSON.stringify(reply.events, null, 2));
    return EXIT_OK;
  }
  io.out(renderWhy(reply.status, reply.events));
  return EXIT_OK;
}

export function renderWhy(s: StatusEntry, events: EventRecord[], now = Date.now()): string {
  const lines = [`${s.name} is ${s.state} since ${clock(s.since)} (${ago(s.since, now)}); wanted ${s.desired}${s.enabled ? '' : ', disabled'}`];
  if (s.cause !== null) lines.push(`  because: ${describeCause(s.cause)}`);
  if (s.state === 'backoff' && s.nextAttemptAt !== null) {
    lines.push(`  next attempt: ${clock(s.nextAttemptAt)} (${inFuture(s.nextAttemptAt, now)}); ${s.restarts} restarts so far`);
  } else if (s.restarts > 0) {
    lines.push(`  restarted ${s.restarts} times since the daemon started`);
  }
  if (s.desired === 'stopped' && s.state === 'stopped') lines.push('  it stays stopped until someone runs `upkeep start`');
  if (s.state === 'failed') lines.push('  restart = "never": it stays failed until someone runs `upkeep start`');
  const lastStop = [...events].reverse().find((e) => e.from === 'running');
  if (lastStop !== undefined && s.state !== 'running') lines.push(`  last left running: ${describeCause(lastStop.cause)} at ${clock(lastStop.time)}`);
  lines.push('', `last ${events.length} changes (oldest first):`);
  for (const e of events) lines.push(`  ${renderEvent(e, false)}`);
  return lines.join('\n');
}
