// users.ts against temp copies of /etc/passwd and /etc/group (initgroups-style group lists,
// names before numbers, malformed lines), plus one real lookup of root.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lookupGroup, lookupUser, userByUid } from '../../src/process/users.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'upkeep-users-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const files = { passwd: path.join(dir, 'passwd'), group: path.join(dir, 'group') };
fs.writeFileSync(
  files.passwd,
  [
    'root:x:0:0:root:/root:/bin/bash',
    '# a comment',
    'web:x:1001:1001:Web app,,,:/srv/web:/usr/sbin/nologin',
    '2000:x:3000:3000::/home/numeric:/bin/sh',
    'broken:x:notanumber:1:::',
    '+nisuser::::::',
    'short:x:5',
    '',
  ].join('\n'),
);
fs.writeFileSync(
  files.group,
  ['root:x:0:', 'web:x:1001:', 'www-data:x:33:web,other', 'docker:x:999:other,web', 'again:x:1001:web', '3000:x:3000:'].join('\n'),
);

test('a user by name: fields, primary group first, then every group listing the user, once', () => {
  assert.deepEqual(lookupUser('web', files), {
    name: 'web',
    uid: 1001,
    gid: 1001,
    home: '/srv/web',
    shell: '/usr/sbin/nologin',
    groups: [1001, 33, 999],
  });
});

test('a user by uid, as a number or as digits; a name wins over a number', () => {
  assert.equal(lookupUser(1001, files)?.name, 'web');
  assert.equal(userByUid(1001, files)?.name, 'web');
  assert.equal(lookupUser('1001', files)?.name, 'web');
  assert.equal(lookupUser('2000', files)?.uid, 3000, 'user named "2000" rather than uid 2000');
  assert.equal(lookupUser(2000, files), undefined, 'a JS number is only a uid');
});

test('unknown users and malformed lines are undefined, not errors', () => {
  assert.equal(lookupUser('nobody-here', files), undefined);
  assert.equal(lookupUser('broken', files), undefined);
  assert.equal(lookupUser('+nisuser', files), undefined);
  assert.equal(lookupUser('short', files), undefined);
  assert.equal(lookupUser('web', { passwd: path.join(dir, 'missing') }), undefined);
});

test('groups by name or gid, with members', () => {
  assert.deepEqual(lookupGroup('www-data', files), { name: 'www-data', gid: 33, members: ['web', 'other'] });
  assert.equal(lookupGroup(999, files)?.name, 'docker');
  assert.equal(lookupGroup('33', files)?.name, 'www-data');
  assert.equal(lookupGroup('3000', files)?.gid, 3000);
  assert.equal(lookupGroup('nope', files), undefined);
});

test('an unreadable database is a typed error naming the file', () => {
  assert.throws(() => lookupUser('web', { passwd: dir }), { code: 'user-database-unreadable', message: new RegExp(`cannot read ${dir}`) });
});

test('root on this machine', () => {
  const root = lookupUser('root');
  assert.ok(root);
  assert.equal(root.uid, 0);
  assert.equal(root.gid, 0);
  assert.equal(root.groups[0], 0);
  assert.equal(userByUid(0)?.name, 'root');
  assert.equal(lookupGroup(0)?.name, 'root');
});
