/**
 * What each control command does, on top of the Supervisor. Names are resolved here (NAME or
 * @GROUP, with a "did you mean" for typos) through the socket's View: a tenant's socket reads
 * every name inside the tenant's namespace and sees nothing else (see view.ts). Admin commands
 * carry who asked, from which socket and why, into the cause that the event log records.
 */
import { tenantPrefix } from '../config/load.js';
import { closestMatch } from '../config/schema.js';
import { UpkeepError } from '../errors.js';
import { readTail } from '../process/log-writer.js';
import { statusOutput, type StatusReply } from '../render/status-reply.js';
import type { Cause } from '../supervisor/causes.js';
import type { StatusEntry, Supervisor } from '../supervisor/supervisor.js';
import type { EventRecord } from '../store/types.js';
import type { ClientInfo, Envelope, Request } from './protocol.js';
import type { Connection, Handler } from './server.js';
import { ROOT_VIEW, type View } from './view.js';

export interface ReloadOutcome {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
  errors: { code: string; message: string; file?: string; line?: number; key?: string }[];
}

export interface HandlerDeps {
  supervisor: Supervisor;
  /** Re-reads the files: all of them, or one tenant's folder. */
  reload(tenant?: string): ReloadOutcome;
  logPath(service: string): string;
  daemonInfo(view: View): Record<string, unknown>;
  /**
   * Makes a template instance (`web@3`) known, if a template of that name exists; throws a
   * ConfigError when the instance is not valid. Returns whether the service exists now.
   */
  ensureService?(name: string): boolean;
  view?: View;
}

export function makeHandler(deps: HandlerDeps): Handler {
  const view = deps.view ?? ROOT_VIEW;
  const sup = deps.supervisor;
  const local = (entries: StatusEntry[]): StatusEntry[] => entries.map((e) => ({ ...e, name: view.toLocal(e.name) }));
  const localEvent = (e: EventRecord): EventRecord => ({ ...e, service: view.toLocal(e.service) });
  const prefix = view.tenant === undefined ? undefined : tenantPrefix(view.tenant);

  return async (envelope: Envelope, conn: Connection) => {
    const { request } = envelope;
    switch (request.cmd) {
      case 'ping':
        conn.reply(deps.daemonInfo(view));
        return;
      case 'status': {
        const names = request.names === undefined ? visibleNames(sup, view) : resolveTargets(sup, request.names, view);
        const reply = { daemon: deps.daemonInfo(view), services: local(sup.status(names)) };
        // The native client prints the daemon's rendering, so `upkeep status` needs no Node start-up;
        // it reads only the text, so the services are not sent twice (half the bytes for --json).
        if (request.format === undefined) {
          conn.reply(reply);
          return;
        }
        const { text, warning } = statusOutput(reply as StatusReply, request.format);
        const result = warning === undefined ? { daemon: reply.daemon } : { daemon: reply.daemon, warning };
        if (request.raw === true) conn.replyWithText(result, text);
        else conn.reply({ ...result, text });
        return;
      }
      case 'start':
      case 'stop':
      case 'restart': {
        const names = resolveTargets(sup, request.names, view, request.cmd === 'start' ? deps.ensureService : undefined);
        const cause = adminCause(request.cmd, envelope.client, conn, request.reason);
        for (const name of names) sup[request.cmd](name, cause);
        // A stop returns only when nothing of the services is left; starts return once spawned.
        if (request.cmd === 'stop') await sup.settled(names);
        else await sup.whenPast(names, ['starting', 'stopping'], 2_000);
        conn.reply({ services: local(sup.status(names)) });
        return;
      }
      case 'enable':
      case 'disable': {
        const names = resolveTargets(sup, request.names, view, request.cmd === 'enable' ? deps.ensureService : undefined);
        const forgotten: string[] = [];
        for (const name of names) {
          // A stopped template instance that is disabled is forgotten: it was made by a start.
          if (request.cmd === 'disable' && sup.spec(name)?.template !== undefined && sup.desired(name).state === 'stopped') {
            sup.forget(name);
            forgotten.push(view.toLocal(name));
          } else sup.setEnabled(name, request.cmd === 'enable');
        }
        conn.reply({ services: local(sup.status(names.filter((n) => sup.has(n)))), forgotten });
        return;
      }
      case 'reload':
        conn.reply(localReload(deps.reload(view.tenant), view));
        return;
      case 'why': {
        const name = resolveOne(sup, request.name, view);
        const events = sup.store.events({ service: name, limit: request.limit ?? 20 });
        conn.reply({ status: local(sup.status([name]))[0], events: events.map(localEvent) });
        return;
      }
      case 'events':
        handleEvents(request, sup, conn, view, prefix);
        return;
      case 'logs': {
        const name = resolveOne(sup, request.name, view);
        const spec = sup.spec(name);
        const path = deps.logPath(name);
        const lines = readTail(path, spec?.log.keep ?? 1, request.lines ?? 50);
        conn.reply({ path: view.tenant === undefined ? path : undefined, lines });
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

function visibleNames(sup: Supervisor, view: View): string[] {
  return view.tenant === undefined ? sup.names() : sup.names().filter((n) => view.visible(n));
}

function localReload(outcome: ReloadOutcome, view: View): ReloadOutcome {
  if (view.tenant === undefined) return outcome;
  const names = (list: string[]) => list.filter((n) => view.visible(n)).map((n) => view.toLocal(n));
  return { added: names(outcome.added), removed: names(outcome.removed), changed: names(outcome.changed), unchanged: names(outcome.unchanged), errors: outcome.errors };
}

function handleEvents(request: Extract<Request, { cmd: 'events' }>, sup: Supervisor, conn: Connection, view: View, prefix: string | undefined): void {
  const name = request.name === undefined ? undefined : resolveOne(sup, request.name, view, true);
  const query = { service: name, since: request.since, limit: request.limit ?? 200, ...(name === undefined && prefix !== undefined ? { prefix } : {}) };
  conn.reply({ events: sup.store.events(query).map((e) => ({ ...e, service: view.toLocal(e.service) })) });
  if (request.follow) {
    const off = sup.subscribe((event) => {
      if (!view.visible(event.service)) return;
      if (name === undefined || event.service === name) conn.push({ ...event, service: view.toLocal(event.service) });
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

/** NAME or @GROUP → daemon-wide service names; every unknown name is an error that suggests the closest. */
export function resolveTargets(sup: Supervisor, targets: string[], view: View = ROOT_VIEW, ensure?: (name: string) => boolean): string[] {
  const out = new Set<string>();
  for (const target of targets) {
    if (target.startsWith('@')) {
      const group = target.slice(1);
      const members = visibleNames(sup, view).filter((n) => sup.spec(n)?.groups.includes(group));
      if (members.length === 0) {
        throw new UpkeepError('unknown-group', `no service is in group "${group}"`, {
          hint: 'groups come from the `groups` key of service files',
        });
      }
      for (const m of members) out.add(m);
    } else {
      const global = view.toGlobal(target);
      if (global !== undefined && !sup.has(global) && ensure !== undefined) ensure(global);
      out.add(resolveOne(sup, target, view));
    }
  }
  return [...out];
}

/** `allowHistoric`: a name that is gone from the files may still have events worth reading. */
function resolveOne(sup: Supervisor, name: string, view: View, allowHistoric = false): string {
  const global = view.toGlobal(name);
  if (global !== undefined && view.visible(global)) {
    if (sup.has(global)) return global;
    if (allowHistoric && sup.store.events({ service: global, limit: 1 }).length > 0) return global;
  }
  const near = closestMatch(name, visibleNames(sup, view).map((n) => view.toLocal(n)));
  throw new UpkeepError('unknown-service', `no service named "${name}"`, {
    hint: near === undefined ? 'see `upkeep status` for the list' : `did you mean "${near}"?`,
  });
}
