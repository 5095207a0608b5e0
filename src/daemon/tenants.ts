/**
 * Finds tenant folders from the daemon config's patterns (`/home/*\/.config/upkeep/services`).
 * Each matching folder is a tenant: its owner. A folder is refused, with a warning that says
 * why, when trusting it would let someone act as another user:
 * - owned by root (root's services live in the daemon's own config, not in a tenant folder);
 * - writable by group or others (someone else could plant a service that runs as the owner);
 * - its owner has no entry in the password file, or a name unfit for a tenant;
 * - a second folder of a tenant that already has one (a symlinked folder of another user's).
 * The daemon walks the patterns as root; the folders' contents are then read with the checks of
 * config/parse.ts (no symlinks, owned by the tenant).
 */
import { readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ConfigSource } from '../config/load.js';
import { isValidName } from '../config/section.js';
import type { RunAs } from '../config/spec.js';

export interface TenantScan {
  sources: ConfigSource[];
  warnings: string[];
}

/** Paths matching a pattern whose segments may hold `*` and `?` (never across a `/`). */
export function expandPattern(pattern: string): string[] {
  const parts = pattern.split('/').filter((p) => p.length > 0);
  let found = ['/'];
  for (const part of parts) {
    if (!/[*?]/.test(part)) {
      found = found.map((dir) => path.join(dir, part));
      continue;
    }
    const re = new RegExp(`^${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);
    found = found.flatMap((dir) => {
      try {
        return readdirSync(dir)
          .filter((name) => !name.startsWith('.') && re.test(name))
          .sort()
          .map((name) => path.join(dir, name));
      } catch {
        return [];
      }
    });
  }
  return found;
}

export function scanTenants(patterns: readonly string[], userByUid: (uid: number) => RunAs | undefined): TenantScan {
  const sources: ConfigSource[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, string>();
  for (const pattern of patterns) {
    for (const match of expandPattern(pattern)) {
      let real: string;
      let st;
      try {
        real = realpathSync(match);
        st = statSync(real);
      } catch {
        continue;
      }
      if (!st.isDirectory()) continue;
      const refuse = (why: string) => warnings.push(`tenant folder ${match} ignored: ${why}`);
      if (st.uid === 0) {
        refuse('it is owned by root; a tenant folder belongs to its tenant (root\'s services go in the daemon\'s --config)');
        continue;
      }
      if ((st.mode & 0o022) !== 0) {
        refuse(`it is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); run chmod go-w on it`);
        continue;
      }
      const user = userByUid(st.uid);
      if (user === undefined) {
        refuse(`its owner uid ${st.uid} has no entry in /etc/passwd`);
        continue;
      }
      if (!isValidName(user.user) || user.user.includes('@')) {
        refuse(`the user name ${JSON.stringify(user.user)} cannot name a tenant`);
        continue;
      }
      const earlier = seen.get(user.user);
      if (earlier !== undefined) {
        refuse(`tenant ${user.user} already has the folder ${earlier}`);
        continue;
      }
      seen.set(user.user, match);
      sources.push({ dir: match, tenant: user });
    }
  }
  return { sources, warnings };
}
