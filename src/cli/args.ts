/**
 * Argument parsing on Node's built-in util.parseArgs (strict: unknown flags are usage errors).
 * Every command accepts --json and --socket.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UpkeepError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Options = {
  json: { type: 'boolean', default: false },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
};

export class UsageError extends UpkeepError {
  constructor(message: string, hint?: string) {
    super('usage', message, { hint });
  }
}

export function parse(args: string[], options: Options, usage: string) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] as string, `usage: ${usage}`);
  }
}
