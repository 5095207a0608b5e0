/** status [NAME|@GROUP...] [--json] */
import { call } from '../../api/client.js';
import type { StatusEntry } from '../../supervisor/supervisor.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';
import { renderStatus } from '../render/status.js';

export interface StatusReply {
  daemon: { store: string; storeProblem?: string; configDir: string; pid: number };
  services: StatusEntry[];
}

export async function status(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {}, 'upkeep status [NAME|@GROUP...] [--json]');
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const reply = (await call(positionals.length > 0 ? { cmd: 'status', names: positionals } : { cmd: 'status' }, {
    socketPath,
  })) as StatusReply;
  // Safe mode must be impossible to miss, also for scripts reading --json (it goes to stderr).
  if (reply.daemon.store === 'safe') io.err(`WARNING: ${reply.daemon.storeProblem}`);
  if (values.json) {
    io.out(JSON.stringify(reply.services, null, 2));
    return EXIT_OK;
  }
  io.out(reply.services.length === 0 ? `no services in ${reply.daemon.configDir}` : renderStatus(reply.services));
  return EXIT_OK;
}
