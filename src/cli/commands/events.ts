/** events [NAME] [--since T] [--follow] [--json]: the event log, optionally live. */
import { call } from '../../api/client.js';
import type { EventRecord } from '../../store/types.js';
import { parse, UsageError } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';
import { renderEvent } from '../../render/status.js';
import { parseSince } from '../../render/time.js';

export async function events(args: string[], io: Io): Promise<number> {
  const usage = 'upkeep events [NAME] [--since T] [-n N] [--follow] [--json]';
  const { values, positionals } = parse(
    args,
    { since: { type: 'string' }, follow: { type: 'boolean', short: 'f', default: false }, n: { type: 'string', short: 'n' } },
    usage,
  );
  if (positionals.length > 1) throw new UsageError('events takes at most one service name', `usage: ${usage}`);
  let since: number | undefined;
  if (values.since !== undefined) {
    since = parseSince(values.since as string);
    if (since === undefined) {
      throw new UsageError(`--since: cannot read "${values.since}"`, 'give an age like 10m or 2h, or a date like 2026-11-25T06:00:00Z');
    }
  }
  const limit = values.n === undefined ? undefined : Number(values.n);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) throw new UsageError(`-n must be a positive whole number`);
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const print = (e: EventRecord) => io.out(values.json ? JSON.stringify(e) : renderEvent(e));
  const follow = values.follow as boolean;
  // With --follow the past events come first, then live ones, all one per line (JSON lines).
  const printPast = (result: unknown) => {
    const past = (result as { events: EventRecord[] }).events;
    if (values.json && !follow) io.out(JSON.stringify(past, null, 2));
    else for (const e of past) print(e);
  };
  await call(
    { cmd: 'events', name: positionals[0], since, limit, follow },
    { socketPath, onReply: printPast, ...(follow ? { onItem: (item: unknown) => print(item as EventRecord) } : {}) },
  );
  return EXIT_OK;
}
