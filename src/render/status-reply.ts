/**
 * What `upkeep status` prints for a status reply, in one place: the Node CLI renders the reply it
 * got, and the daemon renders the same reply for a request with a `format` (the native client,
 * native/client, prints that text as it is). `text` is one io.out() of the CLI, `warning` one
 * io.err(); each gets a newline unless it already ends with one.
 */
import type { StatusEntry } from '../supervisor/supervisor.js';
import { renderStatus } from './status.js';

export type StatusFormat = 'json' | 'text';

export interface StatusReply {
  daemon: { store: string; storeProblem?: string; configDir?: string; pid: number };
  services: StatusEntry[];
}

export interface StatusOutput {
  /** stdout. */
  text: string;
  /** stderr, before the text: the store is in safe mode. */
  warning?: string;
}

export function statusOutput(reply: StatusReply, format: StatusFormat, now = Date.now()): StatusOutput {
  // Safe mode must be impossible to miss, also for scripts reading --json (it goes to stderr).
  const warning = reply.daemon.store === 'safe' ? `WARNING: ${reply.daemon.storeProblem}` : undefined;
  const text =
    format === 'json'
      ? JSON.stringify(reply.services, null, 2)
      : reply.services.length === 0
        ? `no services in ${reply.daemon.configDir}`
        : renderStatus(reply.services, now);
  return warning === undefined ? { text } : { text, warning };
}
