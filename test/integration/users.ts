/**
 * Real users for the tenant tests (tests run as root): made with useradd, removed with userdel
 * in cleanup. Names carry a random suffix so that runs never collide; /etc/passwd is locked by
 * every useradd, so a busy lock is retried rather than failing the test.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

export interface TestUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
  /** The tenant folder: HOME/.config/upkeep/services, owned by the user. */
  services: string;
}

function run(cmd: string, args: string[]): void {
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    if (r.status === 0) return;
    // 10: cannot lock /etc/passwd (another useradd runs); retry a while.
    if (attempt < 50 && /lock|try again/i.test(r.stderr)) {
      spawnSync('sleep', ['0.1']);
      continue;
    }
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
}

function id(flag: string, name: string): number {
  return Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
}

export const suffix = (): string => randomBytes(3).toString('hex');

export function makeGroup(name: string): number {
  run('groupadd', [name]);
  return Number(spawnSync('getent', ['group', name], { encoding: 'utf8' }).stdout.split(':')[2]);
}

/** A user with a home under `homes` and a tenant folder in it, everything owned by the user. */
export function makeUser(name: string, homes: string, extraGroups: string[] = []): TestUser {
  const home = join(homes, name);
  run('useradd', ['-M', '-U', '-d', home, '-s', '/bin/sh', ...(extraGroups.length > 0 ? ['-G', extraGroups.join(',')] : []), name]);
  const user = { name, uid: id('-u', name), gid: id('-g', name), home, services: join(home, '.config', 'upkeep', 'services') };
  mkdirSync(user.services, { recursive: true, mode: 0o755 });
  for (const dir of [home, join(home, '.config'), join(home, '.config', 'upkeep'), user.services]) chownSync(dir, user.uid, user.gid);
  return user;
}

export function removeUser(name: string): void {
  try {
    run('userdel', [name]);
  } catch {
    /* already gone */
  }
}

export function removeGroup(name: string): void {
  try {
    run('groupdel', [name]);
  } catch {
    /* already gone */
  }
}
