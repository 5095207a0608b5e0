/**
 * Reads the keys of one table of a service file against their declarations in schema.ts: one
 * reader per kind of value (duration, size, command, …), each returning the normalized value or
 * undefined after reporting an error that names the key and the bad value. Unknown keys are
 * reported when a Section is created, with a "did you mean" hint. Which declared keys were read
 * is tracked so that a key declared in schema.ts but never validated cannot go unnoticed.
 */
import os from 'node:os';
import { DURATION_HINT, SIZE_HINT, tryParseDuration, tryParseSize } from './duration.js';
import { closestMatch, suggestKey, type KeyDecl } from './schema.js';
import { splitCommand } from './split-command.js';

/** Service and group names: safe in file names, socket paths and `@group` on the command line. */
export const NAME_PATTERN = /^[A-Za-z0-9_.@-]+$/;
export const NAME_HINT = 'use letters, digits and _ . @ -, not starting with . or -';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const COMMAND_EXAMPLE = 'like command = ["node", "server.js"]';

export type Table = Record<string, unknown>;
export type Report = (keyPath: readonly string[], detail: string, hint?: string) => void;

/** A leading . or - would make a hidden file or look like an option on the command line. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name) && !/^[.-]/.test(name);
}

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A value as the user wrote it, with its TOML type: `8080 (integer)`, `"x" (string)`. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `${JSON.stringify(value)} (string)`;
  if (typeof value === 'number') return `${value} (${Number.isInteger(value) ? 'integer' : 'float'})`;
  if (typeof value === 'bigint') return `${value} (integer)`;
  if (typeof value === 'boolean') return `${value} (boolean)`;
  if (value instanceof Date) return `${value.toISOString()} (date)`;
  if (Array.isArray(value)) return 'an array';
  return 'a table';
}

/** The keys of one table of the file, read against their declarations. */
export class Section {
  private readonly read = new Set<string>();

  constructor(
    private readonly table: Table,
    private readonly prefix: readonly string[],
    private readonly decls: Readonly<Record<string, KeyDecl>>,
    private readonly report: Report,
  ) {
    for (const key of Object.keys(table)) {
      if (key in decls) continue;
      const suggestion = suggestKey(key, prefix);
      const hint = suggestion === undefined ? undefined : `did you mean "${suggestion}"?`;
      report([...prefix, key], `unknown key "${[...prefix, key].join('.')}"`, hint);
    }
  }

  /** Programmer check: a key declared in schema.ts that this module never reads is a bug. */
  assertAllRead(): void {
    const missed = Object.keys(this.decls).filter((key) => !this.read.has(key));
    if (missed.length > 0) throw new Error(`validate.ts does not read declared keys: ${missed.join(', ')}`);
  }

  /** The value as written (or the default), for messages that compare two keys. */
  raw(key: string): unknown {
    return this.table[key] ?? this.decls[key]?.default;
  }

  has(key: string): boolean {
    return this.table[key] !== undefined;
  }

  private take(key: string): { value: unknown; where: string[]; name: string; decl: KeyDecl } {
    const decl = this.decls[key];
    if (decl === undefined) throw new Error(`schema.ts does not declare "${[...this.prefix, key].join('.')}"`);
    this.read.add(key);
    const where = [...this.prefix, key];
    return { value: this.table[key] ?? decl.default, where, name: where.join('.'), decl };
  }

  private wrongType(where: readonly string[], expected: string, value: unknown, hint?: string): undefined {
    this.report(where, `${where.join('.')}: expected ${expected}, got ${describeValue(value)}`, hint);
    return undefined;
  }

  /** A table; when absent, an empty one (its defaults apply) unless `ifAbsent` is 'none'. */
  section(key: string, ifAbsent: 'empty' | 'none' = 'empty'): Section | undefined {
    const { value, where, decl } = this.take(key);
    if (value === undefined) return ifAbsent === 'none' ? undefined : new Section({}, where, decl.keys ?? {}, this.report);
    if (!isTable(value)) return this.wrongType(where, `a table like [${key}]`, value);
    return new Section(value, where, decl.keys ?? {}, this.report);
  }

  string(key: string): string | undefined {
    const { value, where, name } = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') return this.wrongType(where, 'a string', value);
    if (value.trim() === '') return void this.report(where, `${name}: is empty`);
    return value;
  }

  oneOf(key: string): string | undefined {
    const { value, where, name, decl } = this.take(key);
    const values = decl.values ?? [];
    const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
    if (typeof value !== 'string') return this.wrongType(where, expected, value);
    if (values.includes(value)) return value;
    const close = closestMatch(value, values);
    this.report(where, `${name}: expected ${expected}, got ${JSON.stringify(value)}`, close && `did you mean "${close}"?`);
    return undefined;
  }

  duration(key: string): number | undefined {
    const { value, where, name, decl } = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value === 'number') return this.wrongType(where, 'a duration', value, `add a unit and quotes, like ${key} = "${value}s"`);
    if (typeof value !== 'string') return this.wrongType(where, 'a duration like "10s"', value, DURATION_HINT);
    const ms = tryParseDuration(value);
    if (ms === undefined) return void this.report(where, `${name}: bad duration ${JSON.stringify(value)}`, DURATION_HINT);
    if (ms < (decl.min ?? 0)) return void this.report(where, `${name}: must be longer than 0, got ${JSON.stringify(value)}`);
    return ms;
  }

  size(key: string): number | undefined {
    const { value, where, name, decl } = this.take(key);
    if (value === undefined) return undefined;
    if (typeof value === 'number') return this.wrongType(where, 'a size', value, `add a unit and quotes, like ${key} = "${value}MiB"`);
    if (typeof value !== 'string') return this.wrongType(where, 'a size like "10MiB"', value, SIZE_HINT);
    const bytes = tryParseSize(value);
    if (bytes === undefined) return void this.report(where, `${name}: bad size ${JSON.stringify(value)}`, SIZE_HINT);
    if (bytes < (decl.min ?? 0)) return void this.report(where, `${name}: must be larger than 0, got ${JSON.stringify(value)}`);
    return bytes;
  }

  integer(key: string): number | undefined {
    const { value, where, name, decl } = this.take(key);
    if (value === undefined) return undefined;
    const min = decl.min ?? 0;
    const range = decl.max === undefined ? `>= ${min}` : `from ${min} to ${decl.max}`;
    if (typeof value === 'string' && /^-?\d+$/.test(value)) {
      return this.wrongType(where, 'an integer', value, `remove the quotes: ${key} = ${value}`);
    }
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) return this.wrongType(where, `an integer ${range}`, value);
    if (value < min || (decl.max !== undefined && value > decl.max)) {
      return void this.report(where, `${name}: expected an integer ${range}, got ${value}`);
    }
    return value;
  }

  /** A mode or umask as an octal string ("0022"); a bare number would be read as decimal. */
  octal(key: string): number | undefined {
    const { value, where, name, decl } = this.take(key);
    if (value === undefined) return undefined;
    const hint = `write it as an octal string, like ${key} = "0022"`;
    if (typeof value !== 'string') return this.wrongType(where, 'an octal string', value, hint);
    if (!/^0?[0-7]{1,4}$/.test(value)) return void this.report(where, `${name}: bad octal value ${JSON.stringify(value)}`, hint);
    const n = Number.parseInt(value, 8);
    if (decl.max !== undefined && n > decl.max) {
      return void this.report(where, `${name}: ${JSON.stringify(value)} is above ${decl.max.toString(8).padStart(4, '0')}`);
    }
    return n;
  }

  /** An rlimit: an integer, "infinity", or (for core) a size like "1GiB". */
  limit(key: string): number | 'infinity' | undefined {
    const { value, where, name, decl } = this.take(key);
    if (value === undefined) return undefined;
    const min = decl.min ?? 0;
    if (value === 'infinity' || value === 'unlimited') return 'infinity';
    let n: number | undefined;
    if (typeof value === 'number' && Number.isSafeInteger(value)) n = value;
    else if (typeof value === 'string') n = /^\d+$/.test(value) ? Number(value) : tryParseSize(value);
    if (n === undefined) return this.wrongType(where, 'an integer or "infinity"', value);
    if (n < min) return void this.report(where, `${name}: expected at least ${min}, got ${describeValue(value)}`);
    return n;
  }

  signal(key: string): NodeJS.Signals | undefined {
    const { value, where, name } = this.take(key);
    if (typeof value !== 'string') return this.wrongType(where, 'a signal name like "SIGTERM"', value);
    const upper = value.toUpperCase();
    const normalized = upper.startsWith('SIG') ? upper : `SIG${upper}`;
    if (normalized in os.constants.signals) return normalized as NodeJS.Signals;
    // Compared without the shared "SIG" prefix, which would make every name look close.
    const close = closestMatch(normalized.slice(3), Object.keys(os.constants.signals).map((s) => s.slice(3)));
    const hint = close === undefined ? 'use a name like "SIGTERM", "SIGINT" or "SIGQUIT"' : `did you mean "SIG${close}"?`;
    this.report(where, `${name}: unknown signal ${JSON.stringify(value)}`, hint);
    return undefined;
  }

  /** An array of strings; with `names`, each must be a valid service or group name. */
  strings(key: string, names = false): string[] | undefined {
    const { value, where, name } = this.take(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) return this.wrongType(where, 'an array of strings', value);
    let ok = true;
    value.forEach((item, i) => {
      if (typeof item !== 'string') {
        ok = false;
        this.wrongType(where, `a string in ${name}[${i}]`, item);
      } else if (names && !isValidName(item)) {
        ok = false;
        this.report(where, `${name}: bad name ${JSON.stringify(item)}`, NAME_HINT);
      }
    });
    return ok ? (value as string[]) : undefined;
  }

  command(key: string): string[] | undefined {
    const { value, where, name } = this.take(key);
    if (value === undefined) return undefined;
    let args: string[];
    if (typeof value === 'string') {
      const split = splitCommand(value);
      if ('error' in split) return void this.report(where, `${name}: ${split.error}`, `quote it right, or use an array ${COMMAND_EXAMPLE}`);
      if (split.args.length === 0) return void this.report(where, `${name}: is an empty string`, `name the program to run, ${COMMAND_EXAMPLE}`);
      args = split.args;
    } else if (Array.isArray(value)) {
      const bad = value.findIndex((item) => typeof item !== 'string');
      if (bad !== -1) return this.wrongType(where, `a string in ${name}[${bad}]`, value[bad]);
      if (value.length === 0) return void this.report(where, `${name}: is an empty array`, `name the program to run, ${COMMAND_EXAMPLE}`);
      args = value as string[];
    } else {
      return this.wrongType(where, 'an array of strings or a string', value, COMMAND_EXAMPLE);
    }
    if (args[0]!.trim() === '') return void this.report(where, `${name}: the program (first element) is empty`, COMMAND_EXAMPLE);
    return args;
  }

  environment(key: string): Record<string, string> | undefined {
    const { value, where, name } = this.take(key);
    if (value === undefined) return {};
    if (!isTable(value)) return this.wrongType(where, 'a table like { PORT = "8080" }', value);
    const env: Record<string, string> = {};
    let ok = true;
    for (const [variable, v] of Object.entries(value)) {
      const at = [...where, variable];
      if (!ENV_NAME.test(variable)) {
        ok = false;
        this.report(at, `${name}: bad variable name ${JSON.stringify(variable)}`, 'use letters, digits and _, not starting with a digit');
      } else if (typeof v !== 'string') {
        ok = false;
        const quoteHint = ['number', 'boolean', 'bigint'].includes(typeof v) ? `quote it: ${variable} = "${String(v)}"` : undefined;
        this.wrongType(at, 'a string', v, quoteHint);
      } else {
        env[variable] = v;
      }
    }
    return ok ? env : undefined;
  }

  url(key: string): string | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    const where = [...this.prefix, key];
    if (!URL.canParse(text) || !/^https?:$/.test(new URL(text).protocol)) {
      return void this.report(where, `${where.join('.')}: bad URL ${JSON.stringify(text)}`, 'use http:// or https://, like "http://127.0.0.1:8080/healthz"');
    }
    return text;
  }

  address(key: string): string | undefined {
    const text = this.string(key);
    if (text === undefined) return undefined;
    const where = [...this.prefix, key];
    const port = /^(?:\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(text)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      return void this.report(where, `${where.join('.')}: bad address ${JSON.stringify(text)}`, 'use host:port, like "127.0.0.1:22"');
    }
    return text;
  }
}
