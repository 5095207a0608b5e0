/**
 * Where the CLI and the daemon find things by default. The client looks for the daemon's socket
 * through --socket, then UPKEEP_SOCKET, then the default for the caller: root's system socket, or
 * for others their tenant socket of the system daemon (/run/upkeep/tenants/USER.sock) if it
 * exists, else their own daemon's socket under $XDG_RUNTIME_DIR.
 */
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';

const isRoot = () => process.getuid?.() === 0;

export function defaultSocket(env = process.env): string {
  if (env.UPKEEP_SOCKET) return env.UPKEEP_SOCKET;
  if (isRoot()) return '/run/upkeep/upkeep.sock';
  // A tenant of the system daemon talks to their own socket there.
  const tenantSocket = join(env.UPKEEP_TENANT_DIR ?? '/run/upkeep/tenants', `${safeUserName()}.sock`);
  if (existsSync(tenantSocket)) return tenantSocket;
  const runtime = env.XDG_RUNTIME_DIR ?? join('/tmp', `upkeep-${process.getuid?.() ?? 'user'}`);
  return join(runtime, 'upkeep', 'upkeep.sock');
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'user');
  }
}

export function defaultConfigDir(env = process.env): string {
  if (isRoot()) return '/etc/upkeep/services';
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'upkeep', 'services');
}

export function defaultStateDir(env = process.env): string {
  if (isRoot()) return '/var/lib/upkeep';
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'upkeep');
}

/** `upkeep up DIR` keeps everything of the project inside it. */
export function projectPaths(dir: string): { configDir: string; stateDir: string; socketPath: string } {
  const configDir = resolve(dir);
  const stateDir = join(configDir, '.upkeep');
  return { configDir, stateDir, socketPath: join(stateDir, 'upkeep.sock') };
}
