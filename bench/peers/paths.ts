/** Where the peer bench finds the repository and keeps what it installs and builds. */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repo root, from dist/bench/peers. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Sources of the bench (the C programs live here, next to the TypeScript). */
export const SOURCES = join(ROOT, 'bench', 'peers');
/** PM2 is installed here by the bench, never globally (gitignored). */
export const PM2_PREFIX = join(SOURCES, '.pm2-install');
export const PM2_BIN = join(PM2_PREFIX, 'node_modules', 'pm2', 'bin', 'pm2');
export const RESULTS = join(SOURCES, 'results', 'latest.json');
export const DOC = join(ROOT, 'docs', 'peers.md');
export const CHART = join(ROOT, 'docs', 'peers.svg');
