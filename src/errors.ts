/**
 * The one error hierarchy of upkeep. Every error has a stable `code` (a string that scripts can
 * match on), a message that names the input, the bad value and the way out, and an optional hint.
 * A service exiting is not an error: it is an event with a Cause (see supervisor/causes.ts).
 */
export class UpkeepError extends Error {
  readonly code: string;
  readonly hint?: string;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
  }

  toJSON(): { code: string; message: string; hint?: string } {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

/** A problem in a service file: always names the file, and the line and key where known. */
export class ConfigError extends UpkeepError {
  readonly file: string;
  readonly line?: number;
  readonly key?: string;

  constructor(
    file: string,
    detail: string,
    options: { line?: number; key?: string; hint?: string; code?: string } = {},
  ) {
    const where = options.line === undefined ? file : `${file}:${options.line}`;
    const hint = options.hint === undefined ? '' : `; ${options.hint}`;
    super(options.code ?? 'config-invalid', `${where}: ${detail}${hint}`, { hint: options.hint });
    this.file = file;
    if (options.line !== undefined) this.line = options.line;
    if (options.key !== undefined) this.key = options.key;
  }

  override toJSON(): { code: string; message: string; hint?: string; file: string; line?: number; key?: string } {
    return { ...super.toJSON(), file: this.file, line: this.line, key: this.key };
  }
}

/** A program could not be executed (missing binary, permission denied, missing directory). */
export class SpawnError extends UpkeepError {
  readonly errno: string;
  constructor(errno: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('spawn-error', message, options);
    this.errno = errno;
  }
}

/** A malformed request or reply on the control socket. */
export class ProtocolError extends UpkeepError {
  constructor(message: string, options: { hint?: string; code?: string } = {}) {
    super(options.code ?? 'protocol-error', message, { hint: options.hint });
  }
}

/** The state store could not be opened, read or written. */
export class StoreError extends UpkeepError {
  constructor(message: string, options: { hint?: string; cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'store-error', message, options);
  }
}

/** Turns anything thrown into the {code, message, hint} shape the CLI and the API print. */
export function errorShape(err: unknown): { code: string; message: string; hint?: string } {
  if (err instanceof UpkeepError) return err.toJSON();
  if (err instanceof Error) return { code: 'internal', message: err.message };
  return { code: 'internal', message: String(err) };
}
