/**
 * How the supervisor starts processes, behind an interface: Node's child_process today, a small
 * native posix_spawn helper (that can also keep children across daemon upgrades) later.
 *
 * Contract for every implementation:
 * - the child leads its own new process group (pgid == pid), so the whole tree can be signalled;
 * - `done` is called exactly once: with the pid once the program runs, or with the errno;
 * - after a successful spawn `onExit` is called exactly once, and output chunks may still arrive
 *   after it (pipes drain after the process is gone);
 * - no polling: exits are reported from the OS's child-exit notification.
 */
export interface SpawnRequest {
  command: string[];
  directory: string;
  env: Record<string, string>;
  /** Run as this user: with uid, gid and groups the exec shim drops root after the set-up below. */
  uid?: number;
  gid?: number;
  /** Supplementary groups (initgroups for the user); only with uid/gid. */
  groups?: number[];
  /** Environment variables to set to the program's own pid (WATCHDOG_PID, LISTEN_PID). */
  pidEnv?: string[];
  /** Resource limits, soft = hard; 'infinity' lifts the limit. */
  rlimits?: Partial<Record<RlimitName, number | 'infinity'>>;
  umask?: number;
  nice?: number;
  /** The cgroup directories (made by cgroups.ts; one per v1 hierarchy) the program joins before exec. */
  cgroup?: string | readonly string[];
  /**
   * The one of `cgroup` on the cgroup v2 hierarchy, if any. A spawner that can create the process
   * in it (clone3 CLONE_INTO_CGROUP) does so instead of joining it after the start: a join is a
   * write to cgroup.procs that waits for an RCU grace period in the kernel (about 10 ms here).
   */
  cgroupV2?: string;
  /** Open file descriptors passed to the program as fds 3, 4, … (socket activation). */
  fds?: number[];
}

export type RlimitName = 'nofile' | 'nproc' | 'core';

export type SpawnOutcome =
  | { ok: true; pid: number }
  | { ok: false; errno: string; message: string };

export interface SpawnCallbacks {
  done(outcome: SpawnOutcome): void;
  onOutput(stream: 'out' | 'err', chunk: Buffer): void;
  onExit(code: number | null, signal: string | null): void;
}

export interface Spawner {
  spawn(request: SpawnRequest, callbacks: SpawnCallbacks): void;
}
