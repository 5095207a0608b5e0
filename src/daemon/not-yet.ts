/**
 * Keys of the service-file contract that `upkeep check` accepts but this version does not act on
 * yet (they arrive with the tenants issue). The daemon says so once per service at
 * load, so nobody believes a health check or a dependency is enforced when it is not.
 */
import type { ServiceSpec } from '../config/spec.js';

export function notYetEnforced(spec: ServiceSpec): string[] {
  const out: string[] = [];
  if (spec.socket !== undefined) out.push('[socket]');
  if (spec.user !== undefined) out.push('user');
  if (spec.requires.length > 0) out.push('requires');
  return out;
}

export function notYetWarning(spec: ServiceSpec): string | undefined {
  const keys = notYetEnforced(spec);
  if (keys.length === 0) return undefined;
  return `${spec.file}: not enforced by this version yet: ${keys.join(', ')}`;
}
