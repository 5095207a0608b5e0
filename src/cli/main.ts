/**
 * The `upkeep` command line: picks the command, maps errors to one line and an exit code
 * (0 ok, 1 failure, 2 usage); with --json, errors are printed as {code, message, hint}.
 */
import { errorShape } from '../errors.js';
import { UsageError } from './args.js';
import { check } from './commands/check.js';
import { control } from './commands/control.js';
import { daemon } from './commands/daemon.js';
import { events } from './commands/events.js';
import { logs } from './commands/logs.js';
import { reload } from './commands/reload.js';
import { status } from './commands/status.js';
import { up } from './commands/up.js';
import { why } from './commands/why.js';
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

const COMMANDS: Record<string, Command> = {
  daemon,
  up,
  check,
  status,
  start: (a, io) => control('start', a, io),
  stop: (a, io) => control('stop', a, io),
  restart: (a, io) => control('restart', a, io),
  enable: (a, io) => control('enable', a, io),
  disable: (a, io) => control('disable', a, io),
  reload,
  why,
  events,
  logs,
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
