/** Whether a program is on PATH (no shell involved). */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function which(program: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter)) {
    const path = join(dir, program);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      /* not here */
    }
  }
  return null;
}
