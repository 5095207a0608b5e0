/**
 * Users and groups by name or number, read from /etc/passwd and /etc/group: no native code, no
 * getpwnam. What a service's `user = "..."` turns into before the exec shim drops root.
 *
 * Invariants:
 * - `groups` of a user is what initgroups(3) would give: the primary gid first, then every group
 *   whose member list names the user, each once.
 * - A name is tried before a number (as id(1) does): a user literally named "1000" wins over
 *   uid 1000. A number given as a JS number is only ever a uid/gid.
 * - Only the local files are read: users from LDAP/NSS modules are not found (undefined).
 * - lookupUser/lookupGroup read the files on every call; readUserDatabase reads them once for a
 *   batch (a config load). Either way an edited /etc/passwd is seen without a daemon restart.
 */
import { readFileSync } from 'node:fs';
import { UpkeepError } from '../errors.js';

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
  /** Primary gid first, then every supplementary group listing the user. */
  groups: number[];
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** Where the databases live; tests pass copies. */
export interface UserFiles {
  passwd?: string;
  group?: string;
}

const defaults = { passwd: '/etc/passwd', group: '/etc/group' };

/**
 * One reading of both files, for many lookups: loading 300 tenant folders asks for 300 users,
 * and reading the files for each would parse them 300 times. Take a new one per load.
 */
export interface UserDatabase {
  lookupUser(nameOrUid: string | number): UserEntry | undefined;
  userByUid(uid: number): UserEntry | undefined;
  lookupGroup(nameOrGid: string | number): GroupEntry | undefined;
}

export function readUserDatabase(files: UserFiles = {}): UserDatabase {
  const users = readPasswd(files.passwd ?? defaults.passwd);
  const groups = readGroups(files.group ?? defaults.group);
  const lookupUser = (nameOrUid: string | number): UserEntry | undefined => {
    const found =
      typeof nameOrUid === 'number'
        ? users.find((u) => u.uid === nameOrUid)
        : (users.find((u) => u.name === nameOrUid) ??
          (isNumber(nameOrUid) ? users.find((u) => u.uid === Number(nameOrUid)) : undefined));
    if (found === undefined) return undefined;
    const ids = [found.gid];
    for (const g of groups) {
      if (g.members.includes(found.name) && !ids.includes(g.gid)) ids.push(g.gid);
    }
    return { ...found, groups: ids };
  };
  return {
    lookupUser,
    userByUid: (uid) => lookupUser(uid),
    lookupGroup(nameOrGid) {
      if (typeof nameOrGid === 'number') return groups.find((g) => g.gid === nameOrGid);
      return groups.find((g) => g.name === nameOrGid) ?? (isNumber(nameOrGid) ? groups.find((g) => g.gid === Number(nameOrGid)) : undefined);
    },
  };
}

/** A single lookup (reads both files). */
export function lookupUser(nameOrUid: string | number, files: UserFiles = {}): UserEntry | undefined {
  return readUserDatabase(files).lookupUser(nameOrUid);
}

export function userByUid(uid: number, files: UserFiles = {}): UserEntry | undefined {
  return lookupUser(uid, files);
}

export function lookupGroup(nameOrGid: string | number, files: UserFiles = {}): GroupEntry | undefined {
  return readUserDatabase(files).lookupGroup(nameOrGid);
}

function isNumber(text: string): boolean {
  return /^\d+$/.test(text);
}

/** name:password:uid:gid:gecos:home:shell; malformed lines (and NIS "+" lines) are skipped. */
function readPasswd(file: string): Omit<UserEntry, 'groups'>[] {
  const users: Omit<UserEntry, 'groups'>[] = [];
  for (const fields of readColonFile(file)) {
    if (fields.length < 7) continue;
    const [name, , uid, gid, , home, shell] = fields as [string, string, string, string, string, string, string];
    if (name === '' || !isNumber(uid) || !isNumber(gid)) continue;
    users.push({ name, uid: Number(uid), gid: Number(gid), home, shell });
  }
  return users;
}

/** name:password:gid:member,member,... */
function readGroups(file: string): GroupEntry[] {
  const groups: GroupEntry[] = [];
  for (const fields of readColonFile(file)) {
    if (fields.length < 4) continue;
    const [name, , gid, members] = fields as [string, string, string, string];
    if (name === '' || !isNumber(gid)) continue;
    groups.push({ name, gid: Number(gid), members: members.split(',').filter((m) => m !== '') });
  }
  return groups;
}

/** Lines split on ":"; a missing file is an empty database, as for getpwnam. */
function readColonFile(file: string): string[][] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (errno === 'ENOENT') return [];
    throw new UpkeepError('user-database-unreadable', `cannot read ${file} (${errno})`, {
      hint: 'the daemon reads users and groups from this file to run services as a user',
      cause: err,
    });
  }
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}
