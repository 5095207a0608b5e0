/**
 * Templates, dependency cycles, the daemon config, tenant folders (loading side) and the
 * per-socket view of names. Real files in temp folders; tenants' file checks with real owners
 * (tests run as root, so files can be chowned to any uid).
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findCycles } from '../../src/config/deps.js';
import { instantiateName, loadConfigDir, loadSources } from '../../src/config/load.js';
import type { RunAs } from '../../src/config/spec.js';
import { expandSpecifiers, splitInstanceName } from '../../src/config/template.js';
import { tenantView } from '../../src/api/view.js';
import { loadDaemonConfig } from '../../src/daemon/daemon-config.js';
import { expandPattern, scanTenants } from '../../src/daemon/tenants.js';

let root: string;
let counter = 0;
before(() => {
  root = mkdtempSync(path.join(tmpdir(), 'upkeep-tenancy-'));
});
after(() => rmSync(root, { recursive: true, force: true }));

function dir(files: Record<string, string> = {}, owner?: number): string {
  const d = path.join(root, `case-${++counter}`);
  mkdirSync(d);
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(path.join(d, name), text);
    if (owner !== undefined) chownSync(path.join(d, name), owner, owner);
  }
  if (owner !== undefined) chownSync(d, owner, owner);
  return d;
}

const ALICE: RunAs = { user: 'alice', uid: 4242, gid: 4242, groups: [4242], home: '/home/alice', shell: '/bin/sh' };

describe('templates', () => {
  test('specifiers: %i %u %h and %% are replaced; anything else is an error', () => {
    assert.deepEqual(expandSpecifiers('w-%i %u %h 100%%', { i: '3', u: 'bob', h: '/home/bob' }), { value: 'w-3 bob /home/bob 100%' });
    assert.deepEqual(expandSpecifiers('date +%s', { i: '', u: '', h: '' }), { error: 'unknown specifier "%s"' });
    assert.deepEqual(splitInstanceName('web@3'), { base: 'web', instance: '3' });
    assert.equal(splitInstanceName('web'), undefined);
    assert.equal(splitInstanceName('web@'), undefined);
  });

  test('an instance is the template with its values substituted, validated as NAME@X', () => {
    const d = dir({ 'web@.toml': 'command = ["serve", "--port", "%i"]\nenvironment = { WHO = "%u", HOME_DIR = "%h" }\n' });
    const loaded = loadConfigDir(d, { daemonUser: { user: 'root', home: '/root' } });
    assert.deepEqual([...loaded.specs.keys()], []);
    assert.deepEqual([...loaded.templates.keys()], ['web']);
    const made = instantiateName(loaded, 'web@8080', loaded.specs);
    assert.ok(made !== undefined && 'spec' in made);
    assert.equal(made.spec.name, 'web@8080');
    assert.deepEqual(made.spec.command, ['serve', '--port', '8080']);
    assert.deepEqual(made.spec.environment, { WHO: 'root', HOME_DIR: '/root' });
    assert.deepEqual(made.spec.template, { name: 'web', instance: '8080' });
    assert.equal(instantiateName(loaded, 'nope@1', loaded.specs), undefined);
    const bad = instantiateName(loaded, 'web@a b', loaded.specs);
    assert.ok(bad !== undefined && 'errors' in bad);
    assert.match(bad.errors[0]!.message, /bad instance name "a b"/);
  });

  test('a bad specifier in a template is reported with the key when instantiated', () => {
    const d = dir({ 'job@.toml': 'command = ["date", "+%s"]\n' });
    const loaded = loadConfigDir(d);
    const made = instantiateName(loaded, 'job@1', loaded.specs);
    assert.ok(made !== undefined && 'errors' in made);
    assert.match(made.errors[0]!.message, /command: unknown specifier "%s"; use %i, %u, %h, or %% for a literal %/);
  });

  test("a tenant's template instance is named TENANT/NAME@X and uses the tenant for %u/%h", () => {
    const d = dir({ 'app@.toml': 'command = ["run", "%u", "%h", "%i"]\n' }, ALICE.uid);
    const loaded = loadSources([{ dir: d, tenant: ALICE }]);
    assert.deepEqual([...loaded.templates.keys()], ['alice/app']);
    const made = instantiateName(loaded, 'alice/app@x', loaded.specs);
    assert.ok(made !== undefined && 'spec' in made);
    assert.equal(made.spec.name, 'alice/app@x');
    assert.equal(made.spec.tenant, 'alice');
    assert.deepEqual(made.spec.command, ['run', 'alice', '/home/alice', 'x']);
    assert.deepEqual(made.spec.runAs, ALICE);
  });
});

describe('dependency cycles', () => {
  test('every member of a cycle is found, with one loop through it', () => {
    const nodes = new Map([
      ['a', { after: ['b'], requires: [] }],
      ['b', { after: [], requires: ['c'] }],
      ['c', { after: ['a'], requires: [] }],
      ['d', { after: ['a'], requires: [] }],
      ['e', { after: ['missing'], requires: [] }],
    ]);
    assert.deepEqual(findCycles(nodes), [{ members: ['a', 'b', 'c'], loop: ['a', 'b', 'c', 'a'] }]);
    assert.deepEqual(findCycles(new Map([['x', { after: ['y'], requires: [] }], ['y', { after: [], requires: [] }]])), []);
  });

  test('services in a cycle are left out with an error naming the cycle; the rest loads', () => {
    const d = dir({
      'a.toml': 'command = ["x"]\nafter = ["b"]\n',
      'b.toml': 'command = ["x"]\nrequires = ["a"]\n',
      'c.toml': 'command = ["x"]\nafter = ["a"]\n',
    });
    const loaded = loadConfigDir(d);
    assert.deepEqual([...loaded.specs.keys()], ['c']);
    assert.deepEqual(
      loaded.errors.map((e) => [path.basename(e.file), e.key, e.code, e.message.split(': ').slice(1).join(': ')]),
      [
        ['a.toml', 'after', 'dependency-cycle', 'after: dependency cycle a -> b -> a; remove one of these dependencies; the services of a cycle are not started'],
        ['b.toml', 'requires', 'dependency-cycle', 'requires: dependency cycle a -> b -> a; remove one of these dependencies; the services of a cycle are not started'],
      ],
    );
  });
});

describe("tenants' files", () => {
  test("names are prefixed, dependencies stay inside the tenant, and the tenant's user is used", () => {
    const d = dir({ 'web.toml': 'command = ["x"]\nafter = ["db"]\n', 'db.toml': 'command = ["y"]\n' }, ALICE.uid);
    const loaded = loadSources([{ dir: d, tenant: ALICE }]);
    assert.deepEqual(loaded.errors, []);
    assert.deepEqual([...loaded.specs.keys()].sort(), ['alice/db', 'alice/web']);
    assert.deepEqual(loaded.specs.get('alice/web')?.after, ['alice/db']);
    assert.deepEqual(loaded.specs.get('alice/web')?.runAs, ALICE);
  });

  test('a tenant cannot choose a user, a group, a socket owner or the protocol variables', () => {
    const d = dir(
      {
        'evil.toml':
          'command = ["x"]\nuser = "root"\ngroup = "root"\nenvironment = { NOTIFY_SOCKET = "/x", UPKEEP_SOCKET = "/y", LD_LIBRARY_PATH = "/ok" }\n[socket]\nlisten = ["/tmp/a.sock"]\nowner = "root"\n',
      },
      ALICE.uid,
    );
    const loaded = loadSources([{ dir: d, tenant: ALICE }]);
    assert.equal(loaded.specs.size, 0);
    assert.deepEqual(
      loaded.errors.map((e) => e.key),
      ['user', 'group', 'environment.NOTIFY_SOCKET', 'environment.UPKEEP_SOCKET', 'socket.owner'],
    );
    assert.match(loaded.errors[0]!.message, /evil\.toml:2: user: a tenant's services always run as the tenant \(alice\); remove the user key/);
  });

  test('symlinks, files owned by someone else and hard links are refused', () => {
    const secret = path.join(dir(), 'secret.toml');
    writeFileSync(secret, 'command = ["cat", "/etc/shadow"]\n');
    const d = dir({ 'ok.toml': 'command = ["x"]\n' }, ALICE.uid);
    symlinkSync(secret, path.join(d, 'link.toml'));
    writeFileSync(path.join(d, 'rootfile.toml'), 'command = ["x"]\n'); // owned by root
    const mine = path.join(d, 'mine.toml');
    writeFileSync(mine, 'command = ["x"]\n');
    chownSync(mine, ALICE.uid, ALICE.gid);
    linkSync(mine, path.join(d, 'hard.toml'));
    const loaded = loadSources([{ dir: d, tenant: ALICE }]);
    assert.deepEqual([...loaded.specs.keys()], ['alice/ok']);
    const why = Object.fromEntries(loaded.errors.map((e) => [path.basename(e.file), e.message.slice(e.file.length + 2)]));
    assert.match(why['link.toml']!, /is a symbolic link/);
    assert.match(why['rootfile.toml']!, /is owned by uid 0, not by the tenant \(uid 4242\)/);
    assert.match(why['mine.toml']!, /has 2 hard links/);
    assert.match(why['hard.toml']!, /has 2 hard links/);
  });

  test('root may set user and group; an unknown user is an error on its line', () => {
    const d = dir({ 'a.toml': 'command = ["x"]\nuser = "alice"\n', 'b.toml': 'command = ["x"]\n\nuser = "nobody-here"\n' });
    const loaded = loadConfigDir(d, { lookupUser: (n) => (n === 'alice' ? ALICE : undefined), lookupGroup: () => undefined });
    assert.deepEqual(loaded.specs.get('a')?.runAs, ALICE);
    assert.match(loaded.errors[0]!.message, /b\.toml:3: user: no user named "nobody-here"/);
  });
});

describe('tenant folders', () => {
  test('patterns expand one segment per *, and only safe folders owned by a known user count', () => {
    const home = dir();
    for (const [name, uid, mode] of [['alice', 4242, 0o755], ['bob', 4343, 0o777], ['carol', 0, 0o755], ['dave', 4545, 0o755]] as const) {
      const services = path.join(home, name, 'services');
      mkdirSync(services, { recursive: true });
      chownSync(services, uid, uid);
      chmodSync(services, mode);
    }
    assert.deepEqual(expandPattern(`${home}/*/services`), ['alice', 'bob', 'carol', 'dave'].map((n) => path.join(home, n, 'services')));
    const users: Record<number, RunAs> = { 4242: ALICE, 4343: { ...ALICE, user: 'bob', uid: 4343 } };
    const scan = scanTenants([`${home}/*/services`], (uid) => users[uid]);
    assert.deepEqual(scan.sources.map((s) => s.tenant?.user), ['alice']);
    assert.equal(scan.warnings.length, 3);
    assert.match(scan.warnings[0]!, /bob\/services ignored: it is writable by group or others \(mode 777\)/);
    assert.match(scan.warnings[1]!, /carol\/services ignored: it is owned by root/);
    assert.match(scan.warnings[2]!, /dave\/services ignored: its owner uid 4545 has no entry/);
  });
});

describe('daemon config', () => {
  test('keys are read; errors name the file, the line and the key', () => {
    const d = dir({
      'good.toml': 'tenants = "/home/*/.config/upkeep/services"\nmax_concurrent_starts = 3\ncore_group = "sso"\n',
      'bad.toml': 'tenants = "relative/*"\nmax_concurent_starts = 3\n',
    });
    assert.deepEqual(loadDaemonConfig(path.join(d, 'good.toml')), {
      tenants: ['/home/*/.config/upkeep/services'],
      maxConcurrentStarts: 3,
      coreGroup: 'sso',
    });
    assert.throws(() => loadDaemonConfig(path.join(d, 'bad.toml')), (err: Error) => {
      assert.match(err.message, /bad\.toml:1: tenants: expected an absolute path pattern/);
      assert.match(err.message, /bad\.toml:2: max_concurent_starts: unknown key "max_concurent_starts"; did you mean "max_concurrent_starts"\?/);
      return true;
    });
  });
});

describe("a tenant's view of names", () => {
  test('names are read inside the tenant; nothing spells its way out', () => {
    const v = tenantView('alice');
    assert.equal(v.toGlobal('web'), 'alice/web');
    assert.equal(v.toGlobal('bob/web'), undefined);
    assert.equal(v.toGlobal('../bob/web'), undefined);
    assert.equal(v.toGlobal('/web'), undefined);
    assert.equal(v.visible('alice/web'), true);
    assert.equal(v.visible('alicex/web'), false);
    assert.equal(v.visible('web'), false);
    assert.equal(v.toLocal('alice/web@2'), 'web@2');
  });
});
