/** check [DIR]: validate service files without starting anything; exit 1 with file:line errors. */
import { loadConfigDir } from '../../config/load.js';
import { parse } from '../args.js';
import { EXIT_FAILURE, EXIT_OK, type Io } from '../io.js';
import { defaultConfigDir } from '../paths.js';

export async function check(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {}, 'upkeep check [DIR] [--json]');
  const dir = positionals[0] ?? defaultConfigDir();
  const loaded = loadConfigDir(dir);
  if (values.json) {
    io.out(JSON.stringify({ services: [...loaded.specs.keys()], errors: loaded.errors.map((e) => e.toJSON()) }, null, 2));
  } else {
    for (const err of loaded.errors) io.err(err.message);
    const n = loaded.specs.size;
    const summary = `${n} service${n === 1 ? '' : 's'} OK in ${dir}`;
    io.out(loaded.errors.length === 0 ? summary : `${summary}; ${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'}`);
  }
  return loaded.errors.length === 0 ? EXIT_OK : EXIT_FAILURE;
}
