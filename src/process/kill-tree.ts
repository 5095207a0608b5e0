/**
 * Signals to a whole service: every process of its process group. A vanished group (ESRCH) is
 * not an error: the goal of a kill is that nothing is left.
 */
export function signalGroup(pgid: number, signal: string): boolean {
  if (!Number.isInteger(pgid) || pgid <= 1) return false; // never signal -1 (everything) or init
  try {
    process.kill(-pgid, signal as NodeJS.Signals);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}
