/** status [NAME|@GROUP...] [--json] */
import { call } from '../../api/client.js';
import { statusOutput, type StatusReply } from '../../render/status-reply.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';

export async function status(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {}, 'upkeep status [NAME|@GROUP...] [--json]');
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const reply = (await call(positionals.length > 0 ? { cmd: 'status', names: positionals } : { cmd: 'status' }, {
    socketPath,
  })) as StatusReply;
  const output = statusOutput(reply, values.json ? 'json' : 'text');
  if (output.warning !== undefined) io.err(output.warning);
  io.out(output.text);
  return EXIT_OK;
}
