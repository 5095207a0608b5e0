/**
 * What one control socket can see. Root's socket sees every service under its daemon-wide name;
 * a tenant's socket sees only that tenant's services, named without the `TENANT/` prefix, and
 * any name it is given is read inside the tenant's namespace, so no spelling (`../x`, `bob/x`,
 * `/x`) can reach another tenant's service.
 */
import { tenantPrefix } from '../config/load.js';

export interface View {
  /** The tenant, or undefined for root's view. */
  readonly tenant: string | undefined;
  visible(globalName: string): boolean;
  /** A name as the client wrote it → the daemon-wide name (undefined: cannot be theirs). */
  toGlobal(name: string): string | undefined;
  toLocal(globalName: string): string;
}

export const ROOT_VIEW: View = {
  tenant: undefined,
  visible: () => true,
  toGlobal: (name) => name,
  toLocal: (name) => name,
};

export function tenantView(tenant: string): View {
  const prefix = tenantPrefix(tenant);
  return {
    tenant,
    visible: (name) => name.startsWith(prefix),
    toGlobal: (name) => (name.includes('/') ? undefined : prefix + name),
    toLocal: (name) => (name.startsWith(prefix) ? name.slice(prefix.length) : name),
  };
}
