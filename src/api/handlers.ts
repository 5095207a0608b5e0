/**
 * What each control command does, on top of the Supervisor. Names are resolved here (NAME or
 * @GROUP, with a "did you mean" for typos); admin commands carry who asked, from which socket and
 * why, into the cause that the event log records.
 */
import { closestMatch } from '../config/schema.js';
import { UpkeepError } from '../errors.js';
import { readTail } from '../process/log-writer.js';
import type { Cause } from '../supervisor/causes.js';
import type { Supervisor } from '../supervisor/supervisor.js';
import type { ClientInfo, Envelope, Request } from './protocol.js';
import type { Connection, Handler } from './server.js';

export interface ReloadOutcome {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  errors: { code: string; message: string; file?: string; line?: number; key?: string }[];
}

export interface HandlerDeps {
  supervisor: Supervisor;
  reload(): ReloadOutcome;
  logPath(service: string): string;
  daemonInfo(): Record<string, unknown>;
}

export function makeHandler(deps: HandlerDeps): Handler {
  return async (envelope: Envelope, conn: Connection) => {
    const { request } = envelope;
    const sup = deps.supervisor;
    switch (request.cmd) {
      case 'ping':
        conn.reply(deps.daemonInfo());
        return;
      case 'status': {
        const names = request.names === undefined ? undefined : resolveTargets(sup, request.names);
        conn.reply({ daemon: deps.daemonInfo(), services: sup.status(names) });
        return;
      }
      case 'start':
      case 'stop':
      case 'restart': {
        const names = resolveTargets(sup, request.names);
        const cause = adminCause(request.cmd, envelope.client, conn, request.reason);
        for (const name of names) sup[request.cmd](name, cause);
        // A stop returns only when nothing of the services is left; starts return once spawned.
        if (request.cmd === 'stop') await sup.settled(names);
        else await sup.whenPast(names, ['starting', 'stopping'], 2_000);
        conn.reply({ services: sup.status(names) });
        return;
      }
      case 'enable':
      case 'disable': {
        const names = resolveTargets(sup, request.names);
        for (const name of names) sup.setEnabled(name, request.cmd === 'enable');
        conn.reply({ services: sup.status(names) });
        return;
      }
      case 'reload':
        conn.reply(deps.reload());
        return;
      case 'why': {
        const name = resolveOne(sup, request.name);
        const events = sup.store.events({ service: name, limit: request.limit ?? 20 });
        conn.reply({ status: sup.status([name])[0], events });
        return;
      }
      case 'events':
        handleEvents(request, sup, conn);
        return;
      case 'logs': {
        const name = resolveOne(sup, request.name);
        const spec = sup.spec(name);
        const path = deps.logPath(name);
        const lines = readTail(path, spec?.log.keep ?? 1, request.lines ?? 50);
        conn.reply({ path, lines });
        if (request.follow) {
          const off = sup.subscribeOutput((service, stream, chunk) => {
            if (service === name) conn.push({ stream, text: chunk.toString('utf8') });
          });
          conn.onClose(off);
        }
        return;
      }
      default: {
        const unreachable: never = request;
        throw new UpkeepError('protocol-error', `unhandled command ${JSON.stringify(unreachable)}`);
      }
    }
  };
}

function handleEvents(request: Extract<Request, { cmd: 'events' }>, sup: Supervisor, conn: Connection): void {
  const name = request.name === undefined ? undefined : resolveOne(sup, request.name, true);
  const events = sup.store.events({ service: name, since: request.since, limit: request.limit ?? 200 });
  conn.reply({ events });
  if (request.follow) {
    const off = sup.subscribe((event) => {
      if (name === undefined || event.service === name) conn.push(event);
    });
    conn.onClose(off);
  }
}

function adminCause(command: string, client: ClientInfo, conn: Connection, reason?: string): Cause {
  // The kernel's word (SO_PEERCRED) beats what the client says about itself.
  const cause: Cause = {
    kind: 'admin',
    command,
    uid: conn.peer?.uid ?? client.uid ?? null,
    socket: conn.socketPath,
  };
  if (client.user !== undefined) cause.user = client.user;
  const pid = conn.peer?.pid ?? client.pid;
  if (pid !== undefined) cause.pid = pid;
  if (reason !== undefined && reason.length > 0) cause.reason = reason;
  return cause;
}

/** NAME or @GROUP → service names; every unknown name is an error that suggests the closest. */
export function resolveTargets(sup: Supervisor, targets: string[]): string[] {
  const out = new Set<string>();
  for (const target of targets) {
    if (target.startsWith('@')) {
      const group = target.slice(1);
      const members = sup.names().filter((n) => sup.spec(n)?.groups.includes(group));
      if (members.length === 0) {
        throw new UpkeepError('unknown-group', `no service is in group "${group}"`, {
          hint: 'groups come from the `groups` key of service files',
        });
      }
      for (const m of members) out.add(m);
    } else {
      out.add(resolveOne(sup, target));
    }
  }
  return [...out];
}

/** `allowHistoric`: a name that is gone from the files may still have events worth reading. */
function resolveOne(sup: Supervisor, name: string, allowHistoric = false): string {
  if (sup.has(name)) return name;
  if (allowHistoric && sup.store.events({ service: name, limit: 1 }).length > 0) return name;
  const near = closestMatch(name, sup.names());
  throw new UpkeepError('unknown-service', `no service named "${name}"`, {
    hint: near === undefined ? 'see `upkeep status` for the list' : `did you mean "${near}"?`,
  });
}
