/**
 * Installs the peers that are missing: Debian `supervisor`, `runit` and `s6` with apt-get, and PM2
 * from npm into bench/peers/.pm2-install. A peer that cannot be installed is reported and skipped.
 *
 * Two precautions keep the machine as it was:
 * - `--no-install-recommends`: runit recommends runit-init, which would replace the machine's init;
 * - if /usr/sbin/policy-rc.d does not exist, one that denies every start (exit 101, the Debian
 *   convention for image builds) is put there for the duration of apt-get and then removed, so
 *   the supervisor package's postinst does not start a system-wide supervisord.
 * The bench starts runsvdir, s6-svscan and supervisord itself, on temp folders.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { PM2_BIN, PM2_PREFIX } from './paths.js';
import { which } from './drivers/which.js';

/** The PM2 version the published figures were measured with; `--pm2 VERSION` overrides it. */
export const PM2_VERSION = '7.0.4';

const DEBIAN: Record<string, { pkg: string; programs: string[] }> = {
  supervisord: { pkg: 'supervisor', programs: ['supervisord', 'supervisorctl'] },
  runit: { pkg: 'runit', programs: ['runsvdir', 'runsv', 'sv'] },
  s6: { pkg: 's6', programs: ['s6-svscan', 's6-supervise', 's6-svstat', 's6-svscanctl'] },
};

const POLICY = '/usr/sbin/policy-rc.d';

export function installMissing(tools: string[], say: (line: string) => void, pm2Version = PM2_VERSION): void {
  const wanted = tools.filter((t) => DEBIAN[t] && !DEBIAN[t].programs.every((p) => which(p))).map((t) => (DEBIAN[t] as { pkg: string }).pkg);
  if (wanted.length > 0) {
    if (!which('apt-get') || process.getuid?.() !== 0) {
      say(`cannot install ${wanted.join(', ')}: needs apt-get and root`);
    } else {
      say(`installing ${wanted.join(', ')} with apt-get`);
      const ownPolicy = !existsSync(POLICY);
      if (ownPolicy) {
        writeFileSync(POLICY, '#!/bin/sh\n# put here by upkeep bench/peers for one apt-get run: start nothing\nexit 101\n');
        chmodSync(POLICY, 0o755);
      }
      try {
        const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
        spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
        const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...wanted], { stdio: ['ignore', 'ignore', 'inherit'], env });
        if (r.status !== 0) say(`apt-get install ${wanted.join(' ')} exited ${r.status}`);
      } finally {
        if (ownPolicy) rmSync(POLICY, { force: true });
      }
    }
  }
  if (tools.includes('pm2') && !existsSync(PM2_BIN)) {
    say(`installing pm2@${pm2Version} with npm into ${PM2_PREFIX}`);
    const r = spawnSync('npm', ['install', '--prefix', PM2_PREFIX, '--no-save', '--no-audit', '--no-fund', '--loglevel=error', `pm2@${pm2Version}`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) say(`npm install pm2 exited ${r.status}`);
  }
}
