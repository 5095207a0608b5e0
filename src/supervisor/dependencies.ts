/**
 * What a start waits for, as a pure function of the spec and what the supervisor sees.
 * `after` is ready-gated: every listed service that exists and is wanted running must be
 * `running` (ready in its own `ready` mode, not just spawned). `requires` is stricter: the
 * service must exist and be running, whatever its desired state (a stopped or missing required
 * service holds the start, visibly).
 */
import type { ServiceSpec } from '../config/spec.js';
import type { PublicState } from '../store/types.js';

export interface DependencyView {
  /** Public state of a service, undefined when there is no such service. */
  state(name: string): PublicState | undefined;
  wantedRunning(name: string): boolean;
}

export function unmetDependencies(spec: Pick<ServiceSpec, 'name' | 'after' | 'requires'>, view: DependencyView): string[] {
  const after = spec.after.filter((dep) => {
    const state = view.state(dep);
    return state !== undefined && dep !== spec.name && view.wantedRunning(dep) && state !== 'running';
  });
  const requires = spec.requires.filter((dep) => dep !== spec.name && view.state(dep) !== 'running');
  return [...new Set([...after, ...requires])];
}
