/** start | stop | restart | enable | disable NAME|@GROUP... */
import { call } from '../../api/client.js';
import type { StatusEntry } from '../../supervisor/supervisor.js';
import { parse, UsageError } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';
import { renderStatus } from '../../render/status.js';

export async function control(cmd: 'start' | 'stop' | 'restart' | 'enable' | 'disable', args: string[], io: Io): Promise<number> {
  const usage = `upkeep ${cmd} NAME|@GROUP...${cmd === 'enable' || cmd === 'disable' ? '' : ' [--reason TEXT]'}`;
  const { values, positionals } = parse(args, { reason: { type: 'string' } }, usage);
  if (positionals.length === 0) throw new UsageError(`${cmd} needs at least one service name`, `usage: ${usage}`);
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const request =
    cmd === 'enable' || cmd === 'disable'
      ? { cmd, names: positionals }
      : { cmd, names: positionals, reason: values.reason as string | undefined };
  const result = (await call(request, { socketPath })) as { services: StatusEntry[]; forgotten?: string[] };
  if (values.json) io.out(JSON.stringify(result.services, null, 2));
  else {
    if (result.services.length > 0) io.out(renderStatus(result.services));
    for (const name of result.forgotten ?? []) io.out(`${name}: stopped instance forgotten (upkeep start ${name} makes it again)`);
  }
  return EXIT_OK;
}
