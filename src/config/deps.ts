/**
 * Dependency cycles among services (`after` and `requires` together): a cycle would hold every
 * service in it back forever, each waiting for the next, so it is a configuration error that
 * names the loop ("a -> b -> c -> a"). Every service of a strongly connected group is in some
 * cycle, so each such group is reported once, with one loop through it as the example.
 * Dependencies on services that do not exist are not cycles; the supervisor shows them as what a
 * start waits for.
 */
export interface DepNode {
  after: readonly string[];
  requires: readonly string[];
}

export interface Cycle {
  /** Every service of the group, sorted. */
  members: string[];
  /** One loop through the group, first name repeated last. */
  loop: string[];
}

function edges(nodes: ReadonlyMap<string, DepNode>, name: string): string[] {
  const node = nodes.get(name);
  return [...new Set([...(node?.after ?? []), ...(node?.requires ?? [])])].filter((d) => nodes.has(d)).sort();
}

/** Tarjan's strongly connected components; groups of two or more (or a self-loop) are cycles. */
export function findCycles(nodes: ReadonlyMap<string, DepNode>): Cycle[] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];

  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges(nodes, v)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || edges(nodes, v).includes(v)) groups.push(group.sort());
    }
  };
  for (const name of [...nodes.keys()].sort()) if (!index.has(name)) connect(name);

  return groups.map((members) => ({ members, loop: loopThrough(nodes, members) }));
}

/** A shortest path from the group's first member back to itself, inside the group. */
function loopThrough(nodes: ReadonlyMap<string, DepNode>, members: string[]): string[] {
  const inGroup = new Set(members);
  const start = members[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of edges(nodes, v)) {
      if (!inGroup.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
