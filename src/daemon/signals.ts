/**
 * Process signals of the daemon itself: SIGTERM/SIGINT stop every service (cause shutdown) within
 * their stop timeouts and then exit; SIGHUP re-reads the service files. A second SIGINT while
 * shutting down is ignored on purpose: killing the daemon mid-stop would orphan services.
 */
import type { Daemon } from './daemon.js';

export function handleSignals(daemon: Daemon, say: (line: string) => void, onExit: () => void): void {
  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      say(`${signal}: already stopping services, please wait`);
      return;
    }
    shuttingDown = true;
    say(`${signal}: stopping all services`);
    void daemon.stop(signal).then(onExit, (err) => {
      say(`shutdown failed: ${(err as Error).message}`);
      onExit();
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', () => {
    const outcome = daemon.reload();
    say(
      `SIGHUP: reloaded (${outcome.added.length} added, ${outcome.changed.length} changed, ` +
        `${outcome.removed.length} removed, ${outcome.errors.length} errors)`,
    );
  });
}
