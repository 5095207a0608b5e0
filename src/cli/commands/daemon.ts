/**
 * daemon [--config DIR] [--state DIR] [--socket PATH] [--daemon-config FILE] [--only GROUP]:
 * the supervisor, in the foreground.
 */
import { resolve } from 'node:path';
import { startDaemon } from '../../daemon/daemon.js';
import { loadDaemonConfig } from '../../daemon/daemon-config.js';
import { handleSignals } from '../../daemon/signals.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultConfigDir, defaultSocket, defaultStateDir } from '../paths.js';

export async function daemon(args: string[], io: Io): Promise<number> {
  const { values } = parse(
    args,
    { config: { type: 'string' }, state: { type: 'string' }, 'daemon-config': { type: 'string' }, only: { type: 'string' } },
    'upkeep daemon [--config DIR] [--state DIR] [--socket PATH] [--daemon-config FILE] [--only GROUP]',
  );
  const say = (line: string) => io.err(`upkeep: ${line}`);
  const daemonConfig = values['daemon-config'] as string | undefined;
  const only = (values.only as string | undefined)?.replace(/^@/, '');
  const d = await startDaemon({
    ...(daemonConfig === undefined ? {} : { config: loadDaemonConfig(resolve(daemonConfig)) }),
    ...(only === undefined ? {} : { only }),
    configDir: resolve((values.config as string | undefined) ?? defaultConfigDir()),
    stateDir: resolve((values.state as string | undefined) ?? defaultStateDir()),
    socketPath: resolve((values.socket as string | undefined) ?? defaultSocket()),
    say,
  });
  say(`daemon ${process.pid} supervising ${d.supervisor.names().length} services from ${d.configDir}; control socket ${d.socketPath}`);
  if (d.tenantSockets.size > 0) say(`${d.tenantSockets.size} tenant(s), each with a socket in ${resolve(d.socketPath, '..', 'tenants')}`);
  if (only !== undefined) say(`--only ${only}: services outside group "${only}" are held; \`upkeep start NAME|@GROUP\` releases them`);
  await new Promise<void>((done) => handleSignals(d, say, done));
  say('all services stopped; bye');
  return EXIT_OK;
}
