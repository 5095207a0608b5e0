/**
 * What a service holds across its runs besides its process: the listening sockets of socket
 * activation (bound once, kept through restarts so clients queue, closed when the service is
 * stopped for good) and its cgroup (made at the first run, removed when the service goes away).
 * Owned by one ServiceRunner; the OS work is done by the functions the daemon passes in.
 */
import type { ServiceSpec } from '../config/spec.js';

/** Listening sockets held by the daemon across the service's restarts. */
export interface ServiceSockets {
  readonly fds: readonly number[];
  /** Fires once when a client connects (nothing is accepted); returns a cancel. */
  onceReadable(cb: () => void): () => void;
  close(): void;
}

export interface ServiceCgroupHandle {
  readonly dirs: readonly string[];
  /** The one of `dirs` on the cgroup v2 hierarchy, if any. */
  readonly v2Dir?: string;
  pids(): number[];
  kill(signal: NodeJS.Signals): number;
  remove(): void;
}

/** The part of the driver's dependencies this module uses. */
export interface ResourceDeps {
  openListeners?(spec: ServiceSpec): ServiceSockets;
  openCgroup?(spec: ServiceSpec): ServiceCgroupHandle | undefined;
}

export class ServiceResources {
  private sockets: ServiceSockets | undefined;
  private cancelActivation: (() => void) | undefined;
  /** null: not made yet; undefined: none (not available, or making it failed). */
  private group: ServiceCgroupHandle | undefined | null = null;

  constructor(
    private readonly spec: () => ServiceSpec,
    private readonly deps: ResourceDeps,
    private readonly note: (text: string) => void,
  ) {}

  /**
   * Socket activation, lazy: binds the sockets (kept until closeSockets) and calls
   * `onConnection` once a client connects. False when the sockets cannot be opened: the caller
   * starts the service at once, and the spawn reports the error (and backs off).
   */
  armActivation(onConnection: () => void): boolean {
    try {
      const sockets = this.ensureSockets();
      if (sockets === undefined) return false;
      this.cancelActivation?.();
      this.cancelActivation = sockets.onceReadable(() => {
        this.cancelActivation = undefined;
        this.note('first connection: starting');
        onConnection();
      });
      return true;
    } catch (err) {
      this.note(`cannot listen: ${(err as Error).message}`);
      return false;
    }
  }

  /** Whether the service waits for its first connection. */
  get awaitingConnection(): boolean {
    return this.cancelActivation !== undefined;
  }

  /** The sockets for a run (binding them if needed); throws when an address cannot be had. */
  socketsForRun(): ServiceSockets | undefined {
    const sockets = this.ensureSockets();
    this.cancelActivation?.();
    this.cancelActivation = undefined;
    return sockets;
  }

  /** Closes the listening sockets (the service is stopped for good, or its addresses changed). */
  closeSockets(): void {
    this.cancelActivation?.();
    this.cancelActivation = undefined;
    this.sockets?.close();
    this.sockets = undefined;
  }

  cgroup(): ServiceCgroupHandle | undefined {
    if (this.group === null) {
      try {
        this.group = this.deps.openCgroup?.(this.spec());
      } catch (err) {
        this.note(`no cgroup for this service: ${(err as Error).message}`);
        this.group = undefined;
      }
    }
    return this.group;
  }

  cgroupHasProcesses(): boolean {
    return (this.group?.pids().length ?? 0) > 0;
  }

  /**
   * Processes that left the process group (setsid) are still in the cgroup: they get the signal
   * too. The group itself was signalled already, so only members of another process group are
   * signalled here; for the usual service (its leader alone) that is one file read and no signal.
   */
  signalCgroup(signal: NodeJS.Signals, pgid: number, pgidOf: ((pid: number) => number | undefined) | undefined): void {
    const group = this.group;
    if (group === undefined || group === null) return;
    if (signal === 'SIGKILL') {
      group.kill(signal);
      return;
    }
    for (const pid of group.pids()) {
      if (pid === pgid || pgidOf?.(pid) === pgid) continue;
      try {
        process.kill(pid, signal);
      } catch {
        // gone since the list was read
      }
    }
  }

  dispose(): void {
    this.closeSockets();
    try {
      this.group?.remove();
    } catch {
      // Still has processes (a stuck one): left for the next daemon's recovery to find.
    }
    this.group = null;
  }

  private ensureSockets(): ServiceSockets | undefined {
    const spec = this.spec();
    if (spec.socket === undefined || this.deps.openListeners === undefined) return undefined;
    this.sockets ??= this.deps.openListeners(spec);
    return this.sockets;
  }
}
