/**
 * Loads one of the project's own native addons (native/NAME/build/Release/NAME.node, built by
 * `npm install` / `npm run build:native`). Never throws: a missing or unloadable addon is null,
 * and each caller decides what that means. Each addon is loaded once.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const cache = new Map<string, unknown>();

/**
 * Walks up from this file to the first directory holding the addon: this file runs as
 * dist/src/process/native-addon.js, but also from src/ under a TS loader.
 */
function findAddon(name: string): string | undefined {
  const relative = path.join('native', name, 'build', 'Release', `${name}.node`);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function loadAddon<T>(name: string, isValid: (mod: Partial<T>) => boolean): T | null {
  if (cache.has(name)) return cache.get(name) as T | null;
  let addon: T | null = null;
  try {
    const file = findAddon(name);
    if (file !== undefined) {
      const loaded = createRequire(import.meta.url)(file) as Partial<T>;
      if (isValid(loaded)) addon = loaded as T;
    }
  } catch {
    // Built for another platform or ABI, or unreadable: treated as absent.
  }
  cache.set(name, addon);
  return addon;
}
