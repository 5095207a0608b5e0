/**
 * The start queue: how a storm of starts (daemon start after a reboot, `upkeep start @all`)
 * makes steady progress.
 *
 * - At most `maxConcurrent` starts are in flight. A start holds its slot from the moment it is
 *   launched until the service leaves `starting` (ready, failed to spawn, timed out into backoff,
 *   stopped): a start timeout always frees the slot, so slow or hanging services cannot stall the
 *   queue, they only occupy a slot for their start_timeout.
 * - Fairness: every tenant has a lane (the daemon's own services have the lane ""); lanes take
 *   turns, one start each, so a tenant with 200 services does not delay everyone else.
 *   Within a lane, higher `priority` first, then first come first served.
 * - Urgent entries (the daemon's own core group or positive priority) go before every lane:
 *   a tenant cannot make their services urgent, their priority only orders their own lane.
 * - Launches are spread over event-loop turns (`perTurn` each), so a burst of forks never blocks
 *   the control socket or the exit events of running services for long.
 *
 * The queue holds names; a newer push of a name replaces the queued one. Restarts after a crash
 * do not go through the queue (they are paced by their backoff).
 */
export interface QueueEntry {
  name: string;
  lane: string;
  priority: number;
  urgent: boolean;
  /** Admin starts go to the front of their lane. */
  front?: boolean;
}

interface Queued extends QueueEntry {
  seq: number;
}

export interface SchedulerOptions {
  maxConcurrent: number;
  perTurn?: number;
  launch(name: string): void;
  /** Runs `fn` on a later event-loop turn (setImmediate in the daemon). */
  later?(fn: () => void): void;
}

export class StartScheduler {
  private readonly urgent: Queued[] = [];
  private readonly lanes = new Map<string, Queued[]>();
  /** Lanes in the order they take turns; the cursor is the next lane to serve. */
  private readonly rotation: string[] = [];
  private cursor = 0;
  private readonly where = new Map<string, Queued>();
  private readonly inFlight = new Set<string>();
  private seq = 0;
  private frontSeq = 0;
  private scheduled = false;
  private readonly perTurn: number;
  private readonly later: (fn: () => void) => void;

  constructor(private readonly options: SchedulerOptions) {
    this.perTurn = options.perTurn ?? 32;
    this.later = options.later ?? ((fn) => setImmediate(fn));
  }

  get maxConcurrent(): number {
    return this.options.maxConcurrent;
  }

  get queued(): number {
    return this.where.size;
  }

  get active(): number {
    return this.inFlight.size;
  }

  isQueued(name: string): boolean {
    return this.where.has(name);
  }

  isActive(name: string): boolean {
    return this.inFlight.has(name);
  }

  push(entry: QueueEntry): void {
    this.remove(entry.name);
    const queued: Queued = { ...entry, seq: entry.front ? --this.frontSeq : ++this.seq };
    const list = entry.urgent ? this.urgent : this.lane(entry.lane);
    insertSorted(list, queued);
    this.where.set(entry.name, queued);
    this.pump();
  }

  remove(name: string): boolean {
    const queued = this.where.get(name);
    if (queued === undefined) return false;
    this.where.delete(name);
    const list = queued.urgent ? this.urgent : this.lanes.get(queued.lane);
    const i = list?.indexOf(queued) ?? -1;
    if (list !== undefined && i !== -1) list.splice(i, 1);
    return true;
  }

  /** The start of `name` is over (or never happened): its slot is free. */
  release(name: string): void {
    if (this.inFlight.delete(name)) this.pump();
  }

  /** 1-based positions of every queued name, in the order they would launch. */
  positions(): Map<string, number> {
    const out = new Map<string, number>();
    let n = 0;
    for (const e of this.urgent) out.set(e.name, ++n);
    const lists = this.rotation.map((_, k) => this.lanes.get(this.rotation[(this.cursor + k) % this.rotation.length]!) ?? []);
    const depth = Math.max(0, ...lists.map((l) => l.length));
    for (let d = 0; d < depth; d++) for (const list of lists) if (d < list.length) out.set(list[d]!.name, ++n);
    return out;
  }

  private lane(name: string): Queued[] {
    let list = this.lanes.get(name);
    if (list === undefined) {
      list = [];
      this.lanes.set(name, list);
      this.rotation.push(name);
    }
    return list;
  }

  private pump(): void {
    if (this.scheduled || this.where.size === 0 || this.inFlight.size >= this.options.maxConcurrent) return;
    this.scheduled = true;
    this.later(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    for (let i = 0; i < this.perTurn && this.inFlight.size < this.options.maxConcurrent; i++) {
      const next = this.takeNext();
      if (next === undefined) break;
      this.inFlight.add(next.name);
      this.options.launch(next.name);
    }
    this.pump();
  }

  private takeNext(): Queued | undefined {
    let next = this.urgent.shift();
    if (next === undefined) {
      for (let k = 0; k < this.rotation.length && next === undefined; k++) {
        const lane = this.rotation[this.cursor]!;
        this.cursor = (this.cursor + 1) % this.rotation.length;
        next = this.lanes.get(lane)?.shift();
      }
    }
    if (next !== undefined) this.where.delete(next.name);
    return next;
  }
}

/** Priority descending, then sequence ascending; appending is the common case. */
function insertSorted(list: Queued[], item: Queued): void {
  let i = list.length;
  while (i > 0 && before(item, list[i - 1]!)) i--;
  list.splice(i, 0, item);
}

function before(a: Queued, b: Queued): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq;
}
