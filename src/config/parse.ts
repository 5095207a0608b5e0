/**
 * Reads and parses one service file: file text → TOML table → validated ServiceSpec. Every
 * problem (unreadable file, TOML syntax, invalid values) comes back as ConfigErrors, never as a
 * throw, so that one broken file cannot stop the others from loading.
 *
 * A tenant's files are read by root, so they are opened without following symlinks and must be
 * regular files owned by the tenant with a single link: a tenant cannot make the daemon read
 * (and quote in its errors) a file they could not read themselves.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';
import type { Table } from './section.js';
import type { ServiceSpec } from './spec.js';
import { validate, type FileContext } from './validate.js';

export interface ParsedServiceFile {
  name: string;
  spec?: ServiceSpec;
  errors: ConfigError[];
}

export interface ReadOptions {
  /** The uid that must own the file (a tenant's); undefined: any readable file. */
  owner?: number;
}

/** The first line of smol-toml's message, without its prefix: "invalid value". */
function shortTomlMessage(err: TomlError): string {
  const first = err.message.split('\n', 1)[0] ?? '';
  return first.replace(/^Invalid TOML document:\s*/, '');
}

/** The text of a service file, or the error that says why it cannot be used. */
export function readServiceText(file: string, options: ReadOptions = {}): { text: string } | { error: ConfigError } {
  if (options.owner === undefined) {
    try {
      return { text: readFileSync(file, 'utf8') };
    } catch (err) {
      return { error: unreadable(file, err) };
    }
  }
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') {
      return { error: new ConfigError(file, 'is a symbolic link; a tenant\'s service files must be plain files', { code: 'config-unsafe', hint: 'replace the link with the file itself' }) };
    }
    return { error: unreadable(file, err) };
  }
  try {
    const st = fstatSync(fd);
    const problem =
      !st.isFile() ? 'is not a regular file'
      : st.uid !== options.owner ? `is owned by uid ${st.uid}, not by the tenant (uid ${options.owner})`
      : st.nlink !== 1 ? `has ${st.nlink} hard links; a tenant's service files must have one`
      : undefined;
    if (problem !== undefined) return { error: new ConfigError(file, problem, { code: 'config-unsafe', hint: 'the file is ignored' }) };
    return { text: readFileSync(fd, 'utf8') };
  } catch (err) {
    return { error: unreadable(file, err) };
  } finally {
    closeSync(fd);
  }
}

function unreadable(file: string, err: unknown): ConfigError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const hint = code === 'EACCES' ? 'make it readable by the daemon' : undefined;
  return new ConfigError(file, `cannot read the file (${code})`, { hint, code: 'config-unreadable' });
}

/** TOML text → table, or the syntax error with its line. */
export function parseToml(file: string, text: string): { table: Table } | { error: ConfigError } {
  try {
    return { table: parse(text) };
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const detail = `TOML syntax error: ${shortTomlMessage(err)} (column ${err.column})`;
    return { error: new ConfigError(file, detail, { line: err.line, code: 'config-syntax' }) };
  }
}

/**
 * `file` is shown as given in messages (the caller picks relative or absolute); relative
 * `directory` values in the file resolve against `configDir`.
 */
export function parseServiceFile(file: string, configDir: string, context: FileContext = {}, read: ReadOptions = {}): ParsedServiceFile {
  const name = path.basename(file, '.toml');
  const source = readServiceText(file, read);
  if ('error' in source) return { name, errors: [source.error] };
  const parsed = parseToml(file, source.text);
  if ('error' in parsed) return { name, errors: [parsed.error] };
  return { name, ...validate(name, file, parsed.table, source.text, configDir, context) };
}
