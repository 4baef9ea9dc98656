// The shape of the agent's own source, measured without a TypeScript parser (the npm
// TypeScript 7 has no JavaScript API): a scanner that blanks out comments, strings, regular
// expressions and template text, so that braces, parentheses and `import` statements can be
// read from what is left. Good enough for code formatted like this repository's; a construct
// it misreads shows up as an implausible function in test/architecture.test.ts.

import * as fs from "node:fs";
import * as path from "node:path";

/** Every .ts file below `directory`, relative to `base`, sorted. */
export function sourceFiles(directory: string, base: string): string[] {
  const found: string[] = [];
  const walk = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".ts")) found.push(path.relative(base, full));
    }
  };
  walk(directory);
  return found.sort();
}

const REGEX_MAY_FOLLOW = new Set([..."(,=:[!&|?{};+-*%<>~^"]);
const REGEX_KEYWORDS = /(?:^|[^\w$])(?:return|typeof|case|of|in|throw|yield|await|void)$/;

/**
 * `text` with comments, string and regular-expression literals and template text replaced
 * by spaces (newlines kept, so offsets and line numbers stay), and the `${`/`}` around
 * template expressions blanked too: every brace left is a brace of the code.
 */
export function codeOnly(text: string, options: { keepStrings?: boolean } = {}): string {
  const out = [...text];
  const blank = (from: number, to: number): void => {
    for (let i = from; i < to; i++) if (out[i] !== "\n") out[i] = " ";
  };
  // One entry per open template literal: the brace depth at which its current ${ began.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const scanTemplateText = (): void => {
    const start = i;
    while (i < text.length) {
      if (text[i] === "\\") i += 2;
      else if (text[i] === "`") {
        i++;
        blank(start, i);
        return;
      } else if (text[i] === "$" && text[i + 1] === "{") {
        i += 2;
        blank(start, i);
        templates.push(depth);
        depth++;
        return;
      } else i++;
    }
    blank(start, i);
  };
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      blank(i, end < 0 ? text.length : end);
      i = end < 0 ? text.length : end;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2) + 2;
      blank(i, end);
      i = end;
    } else if (c === '"' || c === "'") {
      const start = i++;
      while (i < text.length && text[i] !== c && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      i++;
      if (options.keepStrings !== true) blank(start, i);
    } else if (c === "`") {
      i++;
      scanTemplateText();
    } else if (c === "/" && regexMayStart(out, i)) {
      const start = i++;
      let inClass = false;
      while (i < text.length && text[i] !== "\n") {
        if (text[i] === "\\") i++;
        else if (text[i] === "[") inClass = true;
        else if (text[i] === "]") inClass = false;
        else if (text[i] === "/" && !inClass) break;
        i++;
      }
      i++;
      while (/[a-z]/.test(text[i] ?? "")) i++;
      blank(start, i);
    } else if (c === "{") {
      depth++;
      i++;
    } else if (c === "}") {
      depth--;
      if (templates.length > 0 && templates[templates.length - 1] === depth) {
        templates.pop();
        out[i] = " ";
        i++;
        scanTemplateText();
      } else i++;
    } else i++;
  }
  return out.join("");
}

function regexMayStart(code: readonly string[], at: number): boolean {
  let j = at - 1;
  while (j >= 0 && /\s/.test(code[j]!)) j--;
  if (j < 0) return true;
  if (REGEX_MAY_FOLLOW.has(code[j]!)) return true;
  return REGEX_KEYWORDS.test(code.slice(Math.max(0, j - 7), j + 1).join(""));
}

export interface FunctionSpan {
  name: string;
  /** 1-based, the line of its name (or of its `=>`) and of its closing brace. */
  startLine: number;
  endLine: number;
  lines: number;
}

const CONTROL = new Set(["if", "for", "while", "switch", "catch", "with", "return", "typeof", "await", "new", "async", "do", "else", "try"]);

/** Every function, method and arrow function with a block body, with how many lines it spans. */
export function functionSpans(text: string): FunctionSpan[] {
  const code = codeOnly(text);
  const lineOf = lineIndex(text);
  const spans: FunctionSpan[] = [];
  const add = (name: string, nameAt: number, bodyAt: number): void => {
    const end = matching(code, bodyAt, "{", "}");
    if (end < 0) return;
    const startLine = lineOf(nameAt);
    const endLine = lineOf(end);
    spans.push({ name, startLine, endLine, lines: endLine - startLine + 1 });
  };
  for (let i = 0; i < code.length; i++) {
    if (code[i] === "=" && code[i + 1] === ">") {
      const body = skipSpace(code, i + 2);
      if (code[body] === "{") add(arrowName(code, i), i, body);
    } else if (code[i] === "(") {
      const before = previousWord(code, i);
      if (before === undefined || CONTROL.has(before.word)) continue;
      const close = matching(code, i, "(", ")");
      if (close < 0) continue;
      const body = bodyAfterParameters(code, close + 1);
      if (body !== undefined) add(before.word === "function" ? "(anonymous)" : before.word, before.at, body);
    }
  }
  return spans;
}

/** The identifier (or `function`, or a generic's `>`) right before `(`, if any. */
function previousWord(code: string, at: number): { word: string; at: number } | undefined {
  let j = at - 1;
  while (j >= 0 && /\s/.test(code[j]!)) j--;
  if (code[j] === ">" && code[j - 1] !== "=") {
    const open = code.lastIndexOf("<", j);
    if (open < 0) return undefined;
    j = open - 1;
  }
  const end = j + 1;
  while (j >= 0 && /[\w$]/.test(code[j]!)) j--;
  const word = code.slice(j + 1, end);
  return word === "" || /^\d/.test(word) ? undefined : { word, at: j + 1 };
}

/**
 * After a parameter list: the offset of the body's `{` when the parentheses were a
 * definition (`) {`, or `): Type {`), undefined for a call.
 */
function bodyAfterParameters(code: string, from: number): number | undefined {
  let i = skipSpace(code, from);
  if (code[i] === "{") return i;
  if (code[i] !== ":") return undefined;
  // A return type: a `{` right after an operator opens an object type; after a complete
  // type (a name, `>`, `]`, `}`, `)`) it opens the body. A `;` or `,` first: it was a call in a ternary.
  let previous = ":";
  let arrow = false;
  let angles = 0;
  for (i++; i < code.length; i++) {
    const c = code[i]!;
    if (/\s/.test(c)) continue;
    if (c === "<") angles++;
    else if (c === ">" && previous !== "=") angles--;
    else if ((c === ";" || c === "," || c === ")") && angles <= 0) return undefined;
    if (c === "{" || c === "(" || c === "[") {
      if (c === "{" && /[\w$>\]})]/.test(previous) && !arrow) return i;
      i = matching(code, i, c, c === "{" ? "}" : c === "(" ? ")" : "]");
      if (i < 0) return undefined;
      previous = code[i]!;
      arrow = false;
      continue;
    }
    arrow = c === ">" && previous === "=";
    previous = c;
  }
  return undefined;
}

function arrowName(code: string, arrowAt: number): string {
  const lineStart = code.lastIndexOf("\n", arrowAt) + 1;
  const named = /(?:const|let)\s+([\w$]+)\s*(?::[^=]*)?=/.exec(code.slice(lineStart, arrowAt));
  return named?.[1] ?? "(arrow)";
}

function skipSpace(code: string, from: number): number {
  let i = from;
  while (i < code.length && /\s/.test(code[i]!)) i++;
  return i;
}

/** Offset of the bracket that closes the one at `open`, or -1. */
function matching(code: string, open: number, opening: string, closing: string): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === opening) depth++;
    else if (code[i] === closing && --depth === 0) return i;
  }
  return -1;
}

function lineIndex(text: string): (offset: number) => number {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle]! <= offset) low = middle;
      else high = middle - 1;
    }
    return low + 1;
  };
}

/** Module specifiers a file imports or re-exports from, statically or with import(). */
export function importsOf(text: string): Array<{ specifier: string; typeOnly: boolean }> {
  const withoutComments = codeOnly(text, { keepStrings: true });
  const found: Array<{ specifier: string; typeOnly: boolean }> = [];
  for (const match of withoutComments.matchAll(/^(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"/gms)) {
    found.push({ specifier: match[3]!, typeOnly: match[2] !== undefined });
  }
  for (const match of withoutComments.matchAll(/\bimport\("([^"]+)"\)/g)) found.push({ specifier: match[1]!, typeOnly: false });
  return found;
}

/** Names a file exports (declarations only; this repository has no `export default`). */
export function exportedNames(text: string): string[] {
  return [...codeOnly(text).matchAll(/^export\s+(?:declare\s+)?(?:async\s+)?(?:const|let|function\*?|class|interface|type|enum)\s+([\w$]+)/gm)].map((match) => match[1]!);
}
