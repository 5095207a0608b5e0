/**
 * One service's line of `status`: what the runner observes, the desired state, and what the
 * supervisor knows about its start (dependencies waited for, place in the start queue, held by
 * `--only`). `status --json` prints these as they are; the fields are part of the contract.
 */
import type { DesiredRecord, PublicState } from '../store/types.js';
import { describeCause, type Cause } from './causes.js';
import type { ServiceRunner } from './driver.js';

export interface StatusEntry {
  name: string;
  state: PublicState;
  desired: 'running' | 'stopped';
  enabled: boolean;
  pid: number | null;
  restarts: number;
  since: string;
  nextAttemptAt: string | null;
  cause: Cause | null;
  why: string | null;
  file: string;
  /** `after`/`requires` services a held-back start is waiting for. */
  waitingFor: string[];
  /** Place in the start queue (1 = next), or null when not queued. */
  queued: number | null;
  /** Not started at daemon start because of `upkeep daemon --only`; an admin start releases it. */
  held: boolean;
  tenant: string | null;
  /** For a template instance: the template name and the instance. */
  template: { name: string; instance: string } | null;
  /** Socket activation: the sockets are bound and the service starts on the first connection. */
  listening: boolean;
  /** The service's own words: the last sd_notify STATUS=. */
  status: string | null;
  /** Last health probe of the current run, when the service has a [health] check. */
  health: { ok: boolean; output: string; latencyMs: number | null; at: string } | null;
}

export function statusEntry(
  runner: ServiceRunner,
  desired: DesiredRecord,
  start: { waitingFor: string[]; queued: number | null; held: boolean },
): StatusEntry {
  const s = runner.state;
  return {
    name: runner.name,
    state: runner.publicState,
    desired: desired.state,
    enabled: desired.enabled,
    pid: s.pid,
    restarts: s.restarts,
    since: new Date(s.since).toISOString(),
    nextAttemptAt: s.nextAttemptAt === null ? null : new Date(s.nextAttemptAt).toISOString(),
    cause: s.lastCause,
    why: s.lastCause === null ? null : describeCause(s.lastCause),
    file: runner.spec.file,
    status: runner.notifyStatus,
    waitingFor: start.waitingFor,
    queued: start.queued,
    held: start.held,
    tenant: runner.spec.tenant ?? null,
    template: runner.spec.template ?? null,
    listening: runner.awaitingConnection,
    health:
      s.lastProbe === null
        ? null
        : { ok: s.lastProbe.ok, output: s.lastProbe.output, latencyMs: runner.lastLatencyMs, at: new Date(s.lastProbe.at).toISOString() },
  };
}
