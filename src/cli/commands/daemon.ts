/** daemon [--config DIR] [--state DIR] [--socket PATH]: the supervisor, in the foreground. */
import { resolve } from 'node:path';
import { startDaemon } from '../../daemon/daemon.js';
import { handleSignals } from '../../daemon/signals.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultConfigDir, defaultSocket, defaultStateDir } from '../paths.js';

export async function daemon(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string' }, state: { type: 'string' } },
    'upkeep daemon [--config DIR] [--state DIR] [--socket PATH]',
  );
  const say = (line: string) => io.err(`upkeep: ${line}`);
  const d = await startDaemon({
    configDir: resolve((values.config as string | undefined) ?? defaultConfigDir()),
    stateDir: resolve((values.state as string | undefined) ?? defaultStateDir()),
    socketPath: resolve((values.socket as string | undefined) ?? defaultSocket()),
    say,
  });
  say(`daemon ${process.pid} supervising ${d.supervisor.names().length} services from ${d.configDir}; control socket ${d.socketPath}`);
  await new Promise<void>((done) => handleSignals(d, say, done));
  say('all services stopped; bye');
  return EXIT_OK;
}
