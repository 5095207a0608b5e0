/**
 * Where the daemon's service definitions come from: its own config folder and every tenant
 * folder found by the daemon config's patterns, templates included. Owns the current sources and
 * templates; hands the supervisor complete spec maps (at boot, and per reload: all folders, or
 * one tenant's), and makes template instances on demand (`upkeep start web@3`). Instances
 * persist as desired-state records in the store, so they come back at the next daemon start.
 */
import { basename } from 'node:path';
import type { ConfigError } from '../errors.js';
import { instantiateName, loadSources, tenantPrefix, type ConfigSource, type LoadedConfig, type LoadOptions } from '../config/load.js';
import type { RunAs, ServiceSpec } from '../config/spec.js';
import type { Template } from '../config/template.js';
import { scanTenants } from './tenants.js';

export interface CatalogOptions {
  configDir: string;
  tenantPatterns: readonly string[];
  /** Users and groups as of now: called once per load and per reload (one read of the files). */
  users(): { load: LoadOptions; userByUid(uid: number): RunAs | undefined };
  say(line: string): void;
}

export interface Reloaded {
  specs: Map<string, ServiceSpec>;
  /** Services whose file is broken: they keep their last good definition. */
  broken: Set<string>;
  errors: ConfigError[];
}

export class Catalog {
  private sources: ConfigSource[] = [];
  private templates = new Map<string, Template>();

  constructor(private readonly options: CatalogOptions) {}

  /** The tenants with a folder, by name. */
  tenants(): RunAs[] {
    return this.sources.flatMap((s) => (s.tenant === undefined ? [] : [s.tenant]));
  }

  /** First load: every folder, plus the template instances named in `instanceNames`. */
  load(instanceNames: Iterable<string>): LoadedConfig {
    const users = this.options.users();
    this.sources = this.scan(users.userByUid);
    const loaded = loadSources(this.sources, users.load);
    this.templates = loaded.templates;
    for (const name of instanceNames) {
      if (loaded.specs.has(name)) continue;
      const made = instantiateName(loaded, name, loaded.specs);
      if (made === undefined) continue;
      if ('errors' in made) loaded.errors.push(...made.errors);
      else loaded.specs.set(name, made.spec);
    }
    return loaded;
  }

  /**
   * Re-reads all folders (and looks for new tenants), or only `tenant`'s. Specs of folders not
   * re-read are carried over from `current`, as are instances whose template is broken.
   */
  reload(current: ReadonlyMap<string, ServiceSpec>, tenant?: string): Reloaded {
    const users = this.options.users();
    if (tenant === undefined) this.sources = this.scan(users.userByUid);
    const reread = tenant === undefined ? this.sources : this.sources.filter((s) => s.tenant?.user === tenant);
    const next = loadSources(reread, users.load);
    const isReread = (spec: ServiceSpec) => tenant === undefined || spec.tenant === tenant;
    for (const [name, t] of this.templates) if (tenant !== undefined && !name.startsWith(tenantPrefix(tenant))) next.templates.set(name, t);
    this.templates = next.templates;
    const broken = new Set(next.errors.map((e) => brokenName(e, reread)).filter((n): n is string => n !== undefined));
    const specs = new Map(next.specs);
    for (const [name, spec] of current) {
      if (spec.template !== undefined) {
        if (!isReread(spec) || specs.has(name)) {
          if (!specs.has(name)) specs.set(name, spec);
          continue;
        }
        const made = instantiateName(next, name, specs);
        if (made !== undefined && 'spec' in made) specs.set(name, made.spec);
        else {
          if (made !== undefined) next.errors.push(...made.errors);
          broken.add(name); // template broken or gone: the instance keeps running as it was
        }
      } else if (!isReread(spec)) specs.set(name, spec);
    }
    return { specs, broken, errors: next.errors };
  }

  /** The spec of a template instance, or undefined when no template has that name. */
  instantiate(name: string, current: ReadonlyMap<string, ServiceSpec>): { spec: ServiceSpec } | { errors: ConfigError[] } | undefined {
    return instantiateName({ templates: this.templates }, name, current);
  }

  private scan(userByUid: (uid: number) => RunAs | undefined): ConfigSource[] {
    const scan = scanTenants(this.options.tenantPatterns, userByUid);
    for (const w of scan.warnings) this.options.say(w);
    return [{ dir: this.options.configDir }, ...scan.sources];
  }
}

/** The service a file error is about: NAME for the daemon's files, TENANT/NAME for a tenant's. */
function brokenName(error: ConfigError, sources: readonly ConfigSource[]): string | undefined {
  if (!error.file.endsWith('.toml') || error.file.endsWith('@.toml')) return undefined;
  const source = sources.find((s) => error.file.startsWith(`${s.dir}/`));
  return tenantPrefix(source?.tenant?.user) + basename(error.file, '.toml');
}
