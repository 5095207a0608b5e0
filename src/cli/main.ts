/**
 * The `upkeep` command line: picks the command, maps errors to one line and an exit code
 * (0 ok, 1 failure, 2 usage); with --json, errors are printed as {code, message, hint}.
 */
import { errorShape } from '../errors.js';
import { UsageError } from './args.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo, type Io } from './io.js';

const USAGE = `usage: upkeep COMMAND [options]

  daemon [--config DIR] [--state DIR] [--socket PATH]   supervisor in the foreground
  up [DIR]                    daemon + live status for a project folder (state in DIR/.upkeep)
  check [DIR]                 validate service files; exit 1 with file:line errors
  status [NAME|@GROUP...]     state, pid, restarts of each service
  start|stop|restart NAME|@GROUP... [--reason TEXT]
  enable|disable NAME...      whether a service starts when the daemon boots
  reload                      re-read files; only changed services are restarted
  why NAME                    last state changes and their causes
  events [NAME] [--since T] [--follow]
  logs NAME [-n N] [-f]

every command takes --json (for scripts) and --socket PATH (or UPKEEP_SOCKET)`;

type Command = (args: string[], io: Io) => Promise<number>;

// Commands load on demand: `status` should not pay for loading SQLite and the daemon.
const lazy =
  <K extends string>(file: string, name: K) =>
  async (args: string[], io: Io): Promise<number> => {
    const mod = (await import(`./commands/${file}.js`)) as Record<K, Command>;
    return mod[name](args, io);
  };
const control = (cmd: string): Command => async (args, io) => {
  const mod = await import('./commands/control.js');
  return mod.control(cmd as Parameters<typeof mod.control>[0], args, io);
};

const COMMANDS: Record<string, Command> = {
  daemon: lazy('daemon', 'daemon'),
  up: lazy('up', 'up'),
  check: lazy('check', 'check'),
  status: lazy('status', 'status'),
  start: control('start'),
  stop: control('stop'),
  restart: control('restart'),
  enable: control('enable'),
  disable: control('disable'),
  reload: lazy('reload', 'reload'),
  why: lazy('why', 'why'),
  events: lazy('events', 'events'),
  logs: lazy('logs', 'logs'),
};

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const args = hoistSocket(argv);
  const name = args[0];
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(USAGE);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS[name];
  const json = args.includes('--json');
  if (command === undefined) {
    io.err(`upkeep: unknown command "${name}"`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.out(USAGE);
    return EXIT_OK;
  }
  try {
    return await command(args.slice(1), io);
  } catch (err) {
    const shape = errorShape(err);
    if (json) io.out(JSON.stringify(shape));
    else io.err(`upkeep: ${shape.message}${shape.hint && !shape.message.includes(shape.hint) ? ` (${shape.hint})` : ''}`);
    return err instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  }
}

/** `upkeep --socket P status` and `upkeep status --socket P` mean the same. */
function hoistSocket(argv: string[]): string[] {
  const args = [...argv];
  const i = args[0]?.startsWith('--socket') ? 0 : -1;
  if (i === 0) {
    const [flag] = args.splice(0, 1);
    const value = flag?.includes('=') ? undefined : args.splice(0, 1)[0];
    const cmd = args.shift();
    if (cmd !== undefined) args.unshift(cmd, ...(value === undefined ? [flag as string] : [flag as string, value]));
  }
  return args;
}
