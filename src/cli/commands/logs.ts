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
  const reply = (await call(
    { cmd: 'logs', name: positionals[0] as string, lines, follow },
    follow
      ? {
          socketPath,
          onItem: (item) => {
            const { stream, text } = item as { stream: string; text: string };
            if (values.json) io.out(JSON.stringify({ stream, text }));
            else (stream === 'err' ? io.err : io.out)(text);
          },
        }
      : { socketPath },
  )) as { path: string; lines: string[] };
  if (values.json && !follow) io.out(JSON.stringify(reply, null, 2));
  else if (!values.json) for (const line of reply.lines) io.out(line);
  return EXIT_OK;
}
