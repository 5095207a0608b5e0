/** logs NAME [-n N] [-f]: the service's log (timestamped stdout/stderr), optionally followed. */
import { call } from '../../api/client.js';
import { parse, UsageError } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';

export async function logs(args: string[], io: Io): Promise<number> {
  const usage = 'upkeep logs NAME [-n N] [-f]';
  const { values, positionals } = parse(
    args,
    { n: { type: 'string', short: 'n' }, follow: { type: 'boolean', short: 'f', default: false } },
    usage,
  );
  if (positionals.length !== 1) throw new UsageError('logs takes exactly one service name', `usage: ${usage}`);
  const lines = values.n === undefined ? 50 : Number(values.n);
  if (!Number.isInteger(lines) || lines < 0) throw new UsageError(`-n must be a whole number, got "${values.n}"`);
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const follow = values.follow as boolean;
  const printPast = (result: unknown) => {
    const reply = result as { path: string; lines: string[] };
    if (values.json && !follow) io.out(JSON.stringify(reply, null, 2));
    else if (values.json) for (const line of reply.lines) io.out(JSON.stringify({ stream: 'log', text: line }));
    else for (const line of reply.lines) io.out(line);
  };
  await call(
    { cmd: 'logs', name: positionals[0] as string, lines, follow },
    {
      socketPath,
      onReply: printPast,
      ...(follow
        ? {
            // Live output is what the service writes, as it writes it (the file adds timestamps).
            onItem: (item: unknown) => {
              const { stream, text } = item as { stream: 'out' | 'err'; text: string };
              if (values.json) io.out(JSON.stringify({ stream, text }));
              else io.raw(stream, text);
            },
          }
        : {}),
    },
  );
  return EXIT_OK;
}
