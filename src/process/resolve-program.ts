/**
 * Finds the file a command will execute, the way execvp would (PATH search for a bare name,
 * relative to the working directory for a path). Used when a tiny /bin/sh shim runs in front of
 * the program (to export the program's own pid, e.g. WATCHDOG_PID): the shim would turn a
 * missing program into "exit 127", so the spawner checks first and keeps it a spawn-error.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

export type Resolved = { ok: true; path: string } | { ok: false; errno: string; message: string };

export function resolveProgram(program: string, pathEnv: string | undefined, cwd: string): Resolved {
  if (program.includes('/')) return check(isAbsolute(program) ? program : resolve(cwd, program), program);
  let denied: Resolved | undefined;
  for (const dir of (pathEnv ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    if (dir === '') continue;
    const found = check(join(dir, program), program);
    if (found.ok) return found;
    if (found.errno === 'EACCES') denied ??= found;
  }
  return denied ?? { ok: false, errno: 'ENOENT', message: `program ${program} not found` };
}

function check(path: string, program: string): Resolved {
  try {
    if (!statSync(path).isFile()) return { ok: false, errno: 'EACCES', message: `permission denied executing ${program}` };
    accessSync(path, constants.X_OK);
    return { ok: true, path };
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (errno === 'EACCES') return { ok: false, errno, message: `permission denied executing ${program}` };
    return { ok: false, errno: 'ENOENT', message: `program ${program} not found` };
  }
}
