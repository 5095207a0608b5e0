/**
 * up [DIR]: a daemon for a project folder (state in DIR/.upkeep) with a live status view.
 * On a terminal the view redraws on every state change; otherwise every change is printed as a
 * line. Ctrl-C stops every service and exits.
 */
import { startDaemon } from '../../daemon/daemon.js';
import { handleSignals } from '../../daemon/signals.js';
import type { EventRecord } from '../../store/types.js';
import { parse } from '../args.js';
import { EXIT_OK, type Io } from '../io.js';
import { projectPaths } from '../paths.js';
import { renderEvent, renderStatus } from '../../render/status.js';

const RECENT = 10;

export async function up(args: string[], io: Io): Promise<number> {
  const { positionals } = parse(args, {}, 'upkeep up [DIR]');
  const paths = projectPaths(positionals[0] ?? '.');
  const live = io.isTTY && process.env.UPKEEP_PLAIN === undefined;
  const messages: string[] = [];
  const say = (line: string) => {
    if (live) messages.push(line);
    else io.err(`upkeep: ${line}`);
  };
  const d = await startDaemon({ ...paths, say, echoEvents: !live });
  io.err(`upkeep: supervising ${d.supervisor.names().length} services from ${paths.configDir}`);
  io.err(`upkeep: control it from another terminal with: upkeep --socket ${paths.socketPath} status   (Ctrl-C stops all)`);

  if (live) {
    const recent: EventRecord[] = d.store.events({ limit: RECENT });
    let pending = false;
    const draw = () => {
      pending = false;
      const header = `upkeep up ${paths.configDir}   socket ${paths.socketPath}   Ctrl-C stops all`;
      const warn = d.store.mode === 'safe' ? `\nWARNING: ${d.store.problem}\n` : '';
      const body = renderStatus(d.supervisor.status());
      const tail = recent.map((e) => renderEvent(e)).join('\n');
      const notes = messages.slice(-5).join('\n');
      io.out(`\x1b[H\x1b[2J${header}\n${warn}\n${body}\n\nrecent changes:\n${tail}${notes ? `\n\n${notes}` : ''}`);
    };
    d.supervisor.subscribe((event) => {
      recent.push(event);
      if (recent.length > RECENT) recent.shift();
      if (!pending) {
        pending = true;
        setTimeout(draw, 100);
      }
    });
    // Ages and "next attempt in" count down; a once-a-second repaint is the view's own clock.
    const tick = setInterval(draw, 1000);
    draw();
    await new Promise<void>((done) => handleSignals(d, (l) => messages.push(l), done));
    clearInterval(tick);
    io.out('');
  } else {
    await new Promise<void>((done) => handleSignals(d, say, done));
  }
  io.err('upkeep: all services stopped; bye');
  return EXIT_OK;
}
