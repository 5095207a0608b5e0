/** Output of the CLI, passed in so commands can be run and checked in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Raw output, no newline added (live service output arrives in arbitrary chunks). */
  raw(stream: 'out' | 'err', text: string): void;
  readonly isTTY: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  raw: (stream, text) => (stream === 'err' ? process.stderr : process.stdout).write(text),
  isTTY: Boolean(process.stdout.isTTY),
};

/** Exit codes: the contract for scripts. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
