// Every path and value a hint prints inside a shell command goes through here, so the
// command runs as printed: a name with a space, a quote or a `$` stays one word and is
// never expanded.

/** `value` as one POSIX shell word: bare when it holds only safe characters, else single-quoted. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_.,:=/@+-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Several words, each quoted, separated by spaces. */
export function shellWords(...values: readonly string[]): string {
  return values.map(shellWord).join(" ");
}
