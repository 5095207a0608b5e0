/**
 * Durations ("250ms", "1m30s") and sizes ("10MiB", "10MB") as written in service files, turned
 * into milliseconds and bytes. Each has one strict grammar (a number directly followed by a unit,
 * no spaces, no bare numbers) so that a typo is an error, never a silently different value.
 * The `try…` forms return undefined so that the validator can attach its own file:line; the
 * plain forms throw an Error that names the bad value and the accepted forms.
 */

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

// Powers of 1000 for KB/MB/GB (as disk vendors and `ls --si` count), of 1024 for KiB/MiB/GiB.
const SIZE_UNITS_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

export const DURATION_HINT = 'use a number with ms, s, m or h, like "10s"';
export const SIZE_HINT = 'use a number with B, KB, MB, GB, KiB, MiB or GiB, like "10MiB"';

/** Milliseconds, or undefined if `text` is not a duration. Parts add up: "1m30s" is 90000. */
export function tryParseDuration(text: string): number | undefined {
  // `ms` is listed before `m` so that "5ms" is not read as 5 minutes followed by junk.
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  if (text.length === 0) return undefined;
  while (pos < text.length) {
    part.lastIndex = pos;
    const match = part.exec(text);
    if (match === null) return undefined;
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2]!] ?? Number.NaN);
    pos = part.lastIndex;
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** Bytes, or undefined if `text` is not a size. Units are case-insensitive ("10mib" = "10MiB"). */
export function tryParseSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)([A-Za-z]+)$/.exec(text);
  if (match === null) return undefined;
  const unit = SIZE_UNITS_BYTES[match[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function parseDuration(text: string): number {
  const ms = tryParseDuration(text);
  if (ms === undefined) throw new Error(`bad duration ${JSON.stringify(text)}; ${DURATION_HINT}`);
  return ms;
}

export function parseSize(text: string): number {
  const bytes = tryParseSize(text);
  if (bytes === undefined) throw new Error(`bad size ${JSON.stringify(text)}; ${SIZE_HINT}`);
  return bytes;
}
