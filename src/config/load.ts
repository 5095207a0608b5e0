/**
 * Loads config folders: every `NAME.toml` directly in a folder (sorted, not recursive) becomes
 * one ServiceSpec, every `NAME@.toml` a template. A broken file yields errors but does not keep
 * the good files from loading, so a typo in one service never touches the others. Dotfiles
 * (editor swap files, `.upkeep/`) and other extensions are ignored.
 *
 * Several folders (sources) make one set of services: the daemon's own, named as their files,
 * and each tenant's, named `TENANT/NAME`, whose `after`/`requires` name the tenant's own
 * services. Dependency cycles are found across the whole set; the services of a cycle are
 * reported and left out, like files with errors.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { findCycles } from './deps.js';
import { parseServiceFile, parseToml, readServiceText } from './parse.js';
import type { RunAs, ServiceSpec } from './spec.js';
import { instantiate, splitInstanceName, templateBaseName, type Template } from './template.js';
import type { FileContext } from './validate.js';

export interface ConfigSource {
  dir: string;
  /** A tenant's folder: services named TENANT/NAME, run as the tenant, files owned by them. */
  tenant?: RunAs;
}

export interface LoadOptions {
  lookupUser?(name: string): RunAs | undefined;
  lookupGroup?(name: string): number | undefined;
  /** The daemon's own user, for %u and %h in root's templates without a `user`. */
  daemonUser?: { user: string; home: string };
}

export interface LoadedConfig {
  specs: Map<string, ServiceSpec>;
  /** By daemon-wide base name: `web` for web@.toml, `alice/web` in alice's folder. */
  templates: Map<string, Template>;
  errors: ConfigError[];
  /** The service files read, as shown in messages. */
  files: string[];
}

/** `web@.toml` is a template; `web@1.toml` is an ordinary service named "web@1". */
export function isTemplateFile(fileName: string): boolean {
  return fileName.endsWith('@.toml');
}

/** The prefix of a tenant's names: `alice/`; empty for the daemon's own services. */
export function tenantPrefix(tenant: string | undefined): string {
  return tenant === undefined ? '' : `${tenant}/`;
}

/** Renames a spec loaded from a tenant's folder into the daemon-wide namespace. */
function qualify(spec: ServiceSpec, tenant: string | undefined): ServiceSpec {
  if (tenant === undefined) return spec;
  const p = tenantPrefix(tenant);
  return { ...spec, name: p + spec.name, after: spec.after.map((n) => p + n), requires: spec.requires.map((n) => p + n) };
}

export function loadConfigDir(dir: string, options: LoadOptions = {}): LoadedConfig {
  return loadSources([{ dir }], options);
}

export function loadSources(sources: readonly ConfigSource[], options: LoadOptions = {}): LoadedConfig {
  const all: LoadedConfig = { specs: new Map(), templates: new Map(), errors: [], files: [] };
  for (const source of sources) {
    const one = loadSource(source, options);
    for (const [k, v] of one.specs) all.specs.set(k, v);
    for (const [k, v] of one.templates) all.templates.set(k, v);
    all.errors.push(...one.errors);
    all.files.push(...one.files);
  }
  dropCycles(all.specs, all.errors);
  return all;
}

function loadSource(source: ConfigSource, options: LoadOptions): LoadedConfig {
  const { dir } = source;
  const specs = new Map<string, ServiceSpec>();
  const templates = new Map<string, Template>();
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
    return { specs, templates, errors: [new ConfigError(dir, detail, { hint, code: 'config-unreadable' })], files: [] };
  }
  const tomls = names.filter((n) => n.endsWith('.toml') && !n.startsWith('.')).sort();
  const files = tomls.filter((n) => !isTemplateFile(n)).map((n) => path.join(dir, n));
  const context = fileContext(source, options);
  const read = source.tenant === undefined ? {} : { owner: source.tenant.uid };
  const errors: ConfigError[] = [];
  for (const file of files) {
    const result = parseServiceFile(file, dir, context, read);
    errors.push(...result.errors);
    if (result.spec !== undefined) specs.set(tenantPrefix(source.tenant?.user) + result.name, qualify(result.spec, source.tenant?.user));
  }
  for (const name of tomls.filter(isTemplateFile)) {
    const file = path.join(dir, name);
    files.push(file);
    const text = readServiceText(file, read);
    if ('error' in text) {
      errors.push(text.error);
      continue;
    }
    const parsed = parseToml(file, text.text);
    if ('error' in parsed) {
      errors.push(parsed.error);
      continue;
    }
    const localName = templateBaseName(file);
    const template: Template = {
      name: tenantPrefix(source.tenant?.user) + localName,
      localName,
      file,
      configDir: dir,
      text: text.text,
      table: parsed.table,
      context,
      who: (userKey) => {
        if (source.tenant !== undefined) return { user: source.tenant.user, home: source.tenant.home };
        if (userKey === undefined) return options.daemonUser ?? { user: 'root', home: '/root' };
        const u = options.lookupUser?.(userKey);
        return u === undefined ? (options.lookupUser === undefined ? { user: userKey, home: '' } : undefined) : { user: u.user, home: u.home };
      },
    };
    templates.set(template.name, template);
  }
  return { specs, templates, errors, files };
}

function fileContext(source: ConfigSource, options: LoadOptions): FileContext {
  const context: FileContext = {};
  if (source.tenant !== undefined) context.tenant = source.tenant;
  else {
    if (options.lookupUser !== undefined) context.lookupUser = options.lookupUser;
    if (options.lookupGroup !== undefined) context.lookupGroup = options.lookupGroup;
  }
  return context;
}

/** Services in a dependency cycle cannot start: they are reported and left out. */
function dropCycles(specs: Map<string, ServiceSpec>, errors: ConfigError[]): void {
  for (const cycle of findCycles(specs)) {
    const text = cycle.loop.join(' -> ');
    for (const name of cycle.members) {
      const spec = specs.get(name)!;
      const key = spec.requires.some((d) => cycle.members.includes(d)) ? 'requires' : 'after';
      errors.push(
        new ConfigError(spec.file, `${key}: dependency cycle ${text}`, {
          key,
          code: 'dependency-cycle',
          hint: 'remove one of these dependencies; the services of a cycle are not started',
        }),
      );
      specs.delete(name);
    }
  }
}

/**
 * The spec of a template instance (`web@3`, `alice/web@3`), or undefined when there is no
 * template of that name. Instances take part in the cycle check of the specs they join.
 */
export function instantiateName(
  loaded: Pick<LoadedConfig, 'templates'>,
  name: string,
  others: ReadonlyMap<string, ServiceSpec>,
): { spec: ServiceSpec } | { errors: ConfigError[] } | undefined {
  const parts = splitInstanceName(name);
  if (parts === undefined) return undefined;
  const template = loaded.templates.get(parts.base);
  if (template === undefined) return undefined;
  const result = instantiate(template, parts.instance);
  if ('errors' in result) return result;
  const spec = qualify(result.spec, template.context.tenant?.user);
  const withIt = new Map(others);
  withIt.set(spec.name, spec);
  const errors: ConfigError[] = [];
  dropCycles(withIt, errors);
  return errors.length > 0 && !withIt.has(spec.name) ? { errors } : { spec };
}
