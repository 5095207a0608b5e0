/**
 * Finds the line where a key is defined in the raw text of a TOML file, so that errors can say
 * `web.toml:7`. The parser gives values, not positions, so this is a separate line scanner. It
 * understands what service files use: `[table]` headers, `key = value`, dotted and quoted keys
 * (`health.interval = …`, `"MY-VAR" = …`) and inline tables on the parent's line
 * (`backoff = { initial = … }`). It is a best effort: an error without a line still names the
 * file and the key, so a miss costs precision, never correctness.
 */

const BARE_OR_QUOTED = String.raw`(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')`;
const DOTTED_KEY = String.raw`${BARE_OR_QUOTED}(?:\s*\.\s*${BARE_OR_QUOTED})*`;
const KEY_LINE = new RegExp(String.raw`^\s*(${DOTTED_KEY})\s*=(.*)$`);
const HEADER_LINE = new RegExp(String.raw`^\s*\[\[?\s*(${DOTTED_KEY})\s*\]\]?\s*(?:#.*)?$`);

/** `a."b.c".d` → ["a", "b.c", "d"]. */
function splitDottedKey(text: string): string[] {
  const parts = text.match(new RegExp(BARE_OR_QUOTED, 'g')) ?? [];
  return parts.map((part) => {
    if (part.startsWith("'")) return part.slice(1, -1);
    if (part.startsWith('"')) {
      try {
        return JSON.parse(part) as string;
      } catch {
        return part.slice(1, -1);
      }
    }
    return part;
  });
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.length <= path.length && prefix.every((part, i) => path[i] === part);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `rest` (the text after `parent =`) holds an inline table that defines `key`. */
function inlineTableDefines(rest: string, key: string): boolean {
  const brace = rest.indexOf('{');
  if (brace === -1) return false;
  const name = escapeRegExp(key);
  return new RegExp(String.raw`[{,]\s*(?:${name}|"${name}"|'${name}')\s*=`).test(rest.slice(brace));
}

/**
 * The 1-based line where `keyPath` (e.g. ["backoff", "initial"]) is defined, or undefined.
 * A path that names a table (["health"]) finds its `[health]` header or its `health = {` line.
 */
export function locateKey(text: string, keyPath: readonly string[]): number | undefined {
  const lines = text.split(/\r?\n/);
  let table: string[] = [];
  let inMultilineString: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // Skip the inside of """…""" and '''…''' strings: their lines may look like keys.
    if (inMultilineString !== undefined) {
      if (line.split(inMultilineString).length % 2 === 0) inMultilineString = undefined;
      continue;
    }
    const header = HEADER_LINE.exec(line);
    if (header !== null) {
      table = splitDottedKey(header[1]!);
      if (startsWith(table, keyPath)) return i + 1;
      continue;
    }
    const assignment = KEY_LINE.exec(line);
    if (assignment === null) continue;
    const defined = [...table, ...splitDottedKey(assignment[1]!)];
    const rest = assignment[2]!;
    for (const quotes of ['"""', "'''"]) {
      if (rest.split(quotes).length % 2 === 0) inMultilineString = quotes;
    }
    if (startsWith(defined, keyPath)) return i + 1;
    if (startsWith(keyPath, defined) && inlineTableDefines(rest, keyPath[keyPath.length - 1]!)) return i + 1;
  }
  return undefined;
}
