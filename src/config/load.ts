/**
 * Loads a config folder: every `NAME.toml` directly in it (sorted, not recursive) becomes one
 * ServiceSpec. A broken file yields errors but does not keep the good files from loading, so a
 * typo in one service never touches the others. Dotfiles (editor swap files, `.upkeep/`) and
 * other extensions are ignored. Templates (`NAME@.toml`) are skipped here; they are
 * instantiated elsewhere.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { parseServiceFile } from './parse.js';
import type { ServiceSpec } from './spec.js';

export interface LoadedConfig {
  specs: Map<string, ServiceSpec>;
  errors: ConfigError[];
  /** The service files read, as shown in messages. */
  files: string[];
}

/** `web@.toml` is a template; `web@1.toml` is an ordinary service named "web@1". */
export function isTemplateFile(fileName: string): boolean {
  return fileName.endsWith('@.toml');
}

export function loadConfigDir(dir: string): LoadedConfig {
  const specs = new Map<string, ServiceSpec>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const detail =
      code === 'ENOENT' ? 'config directory does not exist'
      : code === 'ENOTDIR' ? 'is not a directory'
      : `cannot read the config directory (${code})`;
    const hint = code === 'EACCES' ? 'make it readable by the daemon' : 'create it, or pass another one with --config DIR';
    return { specs, errors: [new ConfigError(dir, detail, { hint, code: 'config-unreadable' })], files: [] };
  }
  const files = names
    .filter((n) => n.endsWith('.toml') && !n.startsWith('.') && !isTemplateFile(n))
    .sort()
    .map((n) => path.join(dir, n));
  const errors: ConfigError[] = [];
  for (const file of files) {
    const result = parseServiceFile(file, dir);
    errors.push(...result.errors);
    if (result.spec !== undefined) specs.set(result.name, result.spec);
  }
  return { specs, errors, files };
}
