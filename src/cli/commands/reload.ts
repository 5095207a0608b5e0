/** reload: re-read the service files; only changed services are restarted. */
import { call } from '../../api/client.js';
import type { ReloadOutcome } from '../../api/handlers.js';
import { parse } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, type Io } from '../io.js';
import { defaultSocket } from '../paths.js';

export async function reload(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {}, 'upkeep reload [--json]');
  const socketPath = (values.socket as string | undefined) ?? defaultSocket();
  const outcome = (await call({ cmd: 'reload' }, { socketPath })) as ReloadOutcome;
  if (values.json) {
    io.out(JSON.stringify(outcome, null, 2));
  } else {
    const list = (label: string, names: string[]) => (names.length > 0 ? `${label}: ${names.join(', ')}` : undefined);
    const lines = [list('added', outcome.added), list('changed', outcome.changed), list('removed', outcome.removed)].filter(
      (l): l is string => l !== undefined,
    );
    io.out(lines.length > 0 ? lines.join('\n') : 'no changes');
    for (const e of outcome.errors) io.err(`${e.message} (service keeps its last good definition)`);
  }
  return outcome.errors.length > 0 ? EXIT_FAILURE : EXIT_OK;
}
