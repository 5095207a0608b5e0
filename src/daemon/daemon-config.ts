/**
 * The daemon's own settings (`upkeep daemon --daemon-config FILE`, TOML):
 *
 *     tenants = "/home/*\/.config/upkeep/services"   # or an array of patterns
 *     max_concurrent_starts = 8
 *     core_group = "core"
 *
 * Errors name the file, the line and the key like service-file errors do; a daemon with a broken
 * daemon config does not start (it would not know whose services to run).
 */
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import { locateKey } from '../config/locate.js';
import { parseToml, readServiceText } from '../config/parse.js';
import { closestMatch } from '../config/schema.js';
import { isValidName } from '../config/section.js';

export interface DaemonConfig {
  /** Patterns of tenant service folders; `*` matches one path segment. */
  tenants: string[];
  maxConcurrentStarts: number;
  coreGroup: string;
}

const KEYS = ['tenants', 'max_concurrent_starts', 'core_group'];

/** Enough to keep a 2-core machine's fork rate busy without a pile-up of slow starts. */
export function defaultMaxConcurrentStarts(): number {
  return Math.max(4, 4 * availableParallelism());
}

export function defaultDaemonConfig(): DaemonConfig {
  return { tenants: [], maxConcurrentStarts: defaultMaxConcurrentStarts(), coreGroup: 'core' };
}

export function loadDaemonConfig(file: string): DaemonConfig {
  const text = readServiceText(file);
  if ('error' in text) throw text.error;
  const parsed = parseToml(file, text.text);
  if ('error' in parsed) throw parsed.error;
  const errors: ConfigError[] = [];
  const report = (key: string, detail: string, hint?: string) =>
    errors.push(new ConfigError(file, `${key}: ${detail}`, { line: locateKey(text.text, [key]), key, hint }));
  const config = defaultDaemonConfig();
  for (const [key, value] of Object.entries(parsed.table)) {
    switch (key) {
      case 'tenants': {
        const list = typeof value === 'string' ? [value] : value;
        if (!Array.isArray(list) || list.some((p) => typeof p !== 'string' || !p.startsWith('/'))) {
          report(key, 'expected an absolute path pattern or an array of them', 'like tenants = "/home/*/.config/upkeep/services"');
        } else config.tenants = list as string[];
        break;
      }
      case 'max_concurrent_starts':
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) report(key, `expected an integer >= 1, got ${JSON.stringify(value)}`);
        else config.maxConcurrentStarts = value;
        break;
      case 'core_group':
        if (typeof value !== 'string' || !isValidName(value)) report(key, `expected a group name, got ${JSON.stringify(value)}`);
        else config.coreGroup = value;
        break;
      default: {
        const near = closestMatch(key, KEYS);
        report(key, `unknown key "${key}"`, near === undefined ? `known keys: ${KEYS.join(', ')}` : `did you mean "${near}"?`);
      }
    }
  }
  if (errors.length > 0) {
    throw new ConfigError(file, errors.map((e) => e.message).join('\n'), { code: 'daemon-config-invalid' });
  }
  return config;
}
