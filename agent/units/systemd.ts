// Writing systemd unit files: sections of `Key=value` lines, and command lines quoted the
// way systemd.service(5) splits them, one option per continued line so a reviewer reads
// an ExecStart like a list.

/**
 * A word systemd is meant to expand when it runs the command: `${NAME}` from the unit's
 * environment (one word, never split) or a specifier such as `%H`. Every other word is
 * literal, and escaped so that systemd expands nothing in it.
 */
export interface SystemdExpansion {
  readonly expands: string;
}

export type Word = string | SystemdExpansion;

/** A command line as lines of words; each inner array is printed on one line. */
export type CommandLines = readonly (readonly Word[])[];

/** Only the forms this module renders: no white space, quotes, backslashes or `$NAME` that systemd would split. */
const EXPANSION = /^(?:[^\s"'\\;$%]|\$\{[A-Z0-9_]+\}|%[H])+$/;

export function expands(text: string): SystemdExpansion {
  if (!EXPANSION.test(text)) throw new Error(`internal: ${JSON.stringify(text)} is not a word systemd expands as one`);
  return { expands: text };
}

/**
 * One word as systemd parses it back: `%` (specifiers) and `$` (environment variables)
 * doubled, backslashes and double quotes escaped, and double quotes around words with
 * white space, quotes or `;` in them.
 */
export function systemdWord(word: Word): string {
  if (typeof word !== "string") return word.expands;
  const escaped = word.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("%", "%%").replaceAll("$", "$$$$");
  return word !== "" && /^[^\s"'\\;]+$/.test(word) ? escaped : `"${escaped}"`;
}

/** `ExecStart=...` and friends; `ignoreFailure` prefixes `-` (a non-zero exit is not a failure). */
export function execDirective(directive: string, lines: CommandLines, ignoreFailure = false): string {
  const text = lines.map((words) => words.map(systemdWord).join(" ")).join(" \\\n  ");
  return `${directive}=${ignoreFailure ? "-" : ""}${text}`;
}

interface UnitSection {
  name: string;
  lines: readonly string[];
}

export function renderUnit(comment: string, sections: readonly UnitSection[]): string {
  const body = sections.map((section) => [`[${section.name}]`, ...section.lines].join("\n")).join("\n\n");
  return `# ${comment}\n${body}\n`;
}
