/**
 * Owns what a command written as one string means (`command` and `health.exec`): the argv a
 * POSIX shell would build from it, without running a shell, so the program is spawned directly
 * and its pid is the service's, not a shell's.
 */

/**
 * Splits a command string like a POSIX shell would: whitespace separates words, '…' is literal,
 * "…" is literal except for \" \\ \$ \`, and a backslash outside quotes escapes any character.
 * Nothing is expanded, so characters that would make a shell do more than split (`$`, `|`, `>`,
 * `;`, `&`, `<`, backquote) are an error unless quoted: silently passing `>` as an argument
 * would run something other than what the user wrote.
 */
export function splitCommand(text: string): { args: string[] } | { error: string } {
  const args: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      if (word !== undefined) args.push(word);
      word = undefined;
    } else if (c === '\\') {
      if (i + 1 >= text.length) return { error: `ends with a lone backslash in ${JSON.stringify(text)}` };
      word = (word ?? '') + text[++i];
    } else if (c === "'" || c === '"') {
      const close = c === "'" ? text.indexOf("'", i + 1) : closingDoubleQuote(text, i + 1);
      if (close === -1) return { error: `unbalanced ${c} quote in ${JSON.stringify(text)}` };
      const inner = text.slice(i + 1, close);
      if (c === '"' && /(?<!\\)[$`]/.test(inner)) return { error: `needs a shell to expand ${JSON.stringify(text)}` };
      word = (word ?? '') + (c === "'" ? inner : inner.replace(/\\([\\"$`])/g, '$1'));
      i = close;
    } else if ('$|&;<>`'.includes(c)) {
      return { error: `needs a shell for ${JSON.stringify(c)} in ${JSON.stringify(text)}` };
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) args.push(word);
  return { args };
}

function closingDoubleQuote(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}
