/**
 * Pure diff between the service files now and the specs the daemon runs: which services are new,
 * removed, changed or unchanged. A file that failed to parse counts as unchanged (its service
 * keeps its last good definition) and never as removed.
 */
import type { ServiceSpec } from '../config/spec.js';

export interface SpecDiff {
  added: ServiceSpec[];
  removed: string[];
  changed: ServiceSpec[];
  unchanged: string[];
}

export function diffSpecs(
  current: ReadonlyMap<string, ServiceSpec>,
  next: ReadonlyMap<string, ServiceSpec>,
  broken: ReadonlySet<string>,
): SpecDiff {
  const diff: SpecDiff = { added: [], removed: [], changed: [], unchanged: [] };
  for (const [name, spec] of next) {
    const old = current.get(name);
    if (old === undefined) diff.added.push(spec);
    else if (sameSpec(old, spec)) diff.unchanged.push(name);
    else diff.changed.push(spec);
  }
  for (const name of current.keys()) {
    if (next.has(name)) continue;
    if (broken.has(name)) diff.unchanged.push(name);
    else diff.removed.push(name);
  }
  return diff;
}

export function sameSpec(a: ServiceSpec, b: ServiceSpec): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Key order must not make two equal specs differ. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value as Record<string, unknown>)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
