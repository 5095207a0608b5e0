/**
 * Templates: `NAME@.toml` describes any number of instances `NAME@X`. An instance is the
 * template's table with specifiers replaced in every string value: `%i` the instance, `%u` and
 * `%h` the user the service runs as and their home, `%%` a literal percent sign. Any other `%`
 * sequence is an error, so that a typo never becomes a silently literal value. Substitution is
 * done on values, not on the file text, so line numbers in errors stay those of the template.
 */
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { isValidName, type Table } from './section.js';
import type { ServiceSpec } from './spec.js';
import { validate, type FileContext } from './validate.js';

export interface Template {
  /** Daemon-wide base name: `web` for web@.toml, `alice/web` in alice's folder. */
  name: string;
  /** The file's own base name (without the tenant prefix). */
  localName: string;
  file: string;
  configDir: string;
  text: string;
  table: Table;
  context: FileContext;
  /** Owner of the template's services, for %u and %h. */
  who(userKey: string | undefined): { user: string; home: string } | undefined;
}

export interface Specifiers {
  i: string;
  u: string;
  h: string;
}

export const INSTANCE_PATTERN = /^[A-Za-z0-9_.:-]+$/;

/** `web@3` → { base: 'web', instance: '3' }; anything else → undefined. */
export function splitInstanceName(name: string): { base: string; instance: string } | undefined {
  const at = name.lastIndexOf('@');
  if (at <= 0 || at === name.length - 1) return undefined;
  return { base: name.slice(0, at), instance: name.slice(at + 1) };
}

/** Replaces specifiers in one string; the error names the bad sequence. */
export function expandSpecifiers(text: string, values: Specifiers): { value: string } | { error: string } {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const next = text[i + 1];
    if (next === '%') out += '%';
    else if (next === 'i' || next === 'u' || next === 'h') out += values[next];
    else return { error: `unknown specifier "%${next ?? ''}"` };
    i++;
  }
  return { value: out };
}

function expandValue(value: unknown, values: Specifiers, where: string[], errors: { where: string[]; error: string }[]): unknown {
  if (typeof value === 'string') {
    const r = expandSpecifiers(value, values);
    if ('error' in r) {
      errors.push({ where, error: r.error });
      return value;
    }
    return r.value;
  }
  if (Array.isArray(value)) return value.map((v) => expandValue(v, values, where, errors));
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value as Table).map(([k, v]) => [k, expandValue(v, values, [...where, k], errors)]));
  }
  return value;
}

/** One instance of a template, validated like a file of its own named `BASE@INSTANCE`. */
export function instantiate(template: Template, instance: string): { spec: ServiceSpec } | { errors: ConfigError[] } {
  const localName = `${template.localName}@${instance}`;
  if (!INSTANCE_PATTERN.test(instance) || !isValidName(localName)) {
    return {
      errors: [
        new ConfigError(template.file, `bad instance name ${JSON.stringify(instance)} for ${localName}`, {
          code: 'bad-instance',
          hint: 'use letters, digits and _ . : -',
        }),
      ],
    };
  }
  const userKey = typeof template.table.user === 'string' ? template.table.user : undefined;
  const who = template.who(userKey);
  if (who === undefined) {
    return { errors: [new ConfigError(template.file, `user: no user named ${JSON.stringify(userKey)}`, { key: 'user' })] };
  }
  const problems: { where: string[]; error: string }[] = [];
  const table = expandValue(template.table, { i: instance, u: who.user, h: who.home }, [], problems) as Table;
  if (problems.length > 0) {
    return {
      errors: problems.map(
        (p) => new ConfigError(template.file, `${p.where.join('.')}: ${p.error}`, { key: p.where.join('.'), hint: 'use %i, %u, %h, or %% for a literal %' }),
      ),
    };
  }
  const result = validate(localName, template.file, table, template.text, template.configDir, template.context);
  if (result.spec === undefined) return { errors: result.errors };
  const spec = result.spec;
  spec.template = { name: template.name, instance };
  return { spec };
}

/** `web@.toml` → `web`. */
export function templateBaseName(file: string): string {
  return path.basename(file, '@.toml');
}
