/**
 * Spreads many starts over event-loop turns: a burst of a thousand starts must not block the
 * control socket (and the exit events of running services) for the seconds a fork storm takes.
 * Fairness across tenants and a bound on concurrent starts come with the start-storm issue.
 */
export class StartQueue {
  private readonly pending: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly perTurn = 32) {}

  push(task: () => void): void {
    this.pending.push(task);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  get size(): number {
    return this.pending.length;
  }

  private drain(): void {
    this.scheduled = false;
    for (let i = 0; i < this.perTurn; i++) {
      const task = this.pending.shift();
      if (task === undefined) return;
      task();
    }
    if (this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }
}
