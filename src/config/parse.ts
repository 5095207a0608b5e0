/**
 * Reads and parses one service file: file text → TOML table → validated ServiceSpec. Every
 * problem (unreadable file, TOML syntax, invalid values) comes back as ConfigErrors, never as a
 * throw, so that one broken file cannot stop the others from loading.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import type { ServiceSpec } from './spec.js';
import { validate } from './validate.js';

export interface ParsedServiceFile {
  name: string;
  spec?: ServiceSpec;
  errors: ConfigError[];
}

/** The first line of smol-toml's message, without its prefix: "invalid value". */
function shortTomlMessage(err: TomlError): string {
  const first = err.message.split('\n', 1)[0] ?? '';
  return first.replace(/^Invalid TOML document:\s*/, '');
}

/**
 * `file` is shown as given in messages (the caller picks relative or absolute); relative
 * `directory` values in the file resolve against `configDir`.
 */
export function parseServiceFile(file: string, configDir: string): ParsedServiceFile {
  const name = path.basename(file, '.toml');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const hint = code === 'EACCES' ? 'make it readable by the daemon' : undefined;
    return { name, errors: [new ConfigError(file, `cannot read the file (${code})`, { hint, code: 'config-unreadable' })] };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const detail = `TOML syntax error: ${shortTomlMessage(err)} (column ${err.column})`;
    return { name, errors: [new ConfigError(file, detail, { line: err.line, code: 'config-syntax' })] };
  }
  return { name, ...validate(name, file, parsed, text, configDir) };
}
