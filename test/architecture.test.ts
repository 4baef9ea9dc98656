// The shape the developer guide sets for the agent's code, kept true by measurement: no file
// over 300 lines, no function over 60.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { functionSpans, sourceFiles } from "./helpers/source-shape.ts";

const REPO = path.resolve(import.meta.dir, "..");
const MAX_FILE_LINES = 300;
const MAX_FUNCTION_LINES = 60;

const files = sourceFiles(path.join(REPO, "agent"), REPO).map((file) => ({ file, text: fs.readFileSync(path.join(REPO, file), "utf8") }));

describe("the shape of agent/", () => {
  test("no file over 300 lines", () => {
    const sizes = files.map(({ file, text }) => [file, text.split("\n").length - (text.endsWith("\n") ? 1 : 0)] as const);
    expect(sizes.filter(([, lines]) => lines > MAX_FILE_LINES)).toEqual([]);
  });

  test("no function over 60 lines", () => {
    const sizes = files.flatMap(({ file, text }) => functionSpans(text).map((span) => [`${file}:${span.name}`, span.lines] as const));
    expect(sizes.filter(([, lines]) => lines > MAX_FUNCTION_LINES)).toEqual([]);
  });

  test("the function scanner finds every declared function, and measures one it can see", () => {
    for (const { file, text } of files) {
      const found = new Set(functionSpans(text).map((span) => span.name));
      for (const match of text.matchAll(/^\s*(?:export )?(?:async )?function\*? ?([\w$]+)/gm)) expect(found, `${file}: ${match[1]}`).toContain(match[1]!);
    }
    const sample = "const a = 1;\nexport function f(x: Map<string, number>): { y: number } {\n  const s = `}${'{'}`; // }\n  return { y: /}/.test(s) ? 1 : 2 };\n}\n";
    expect(functionSpans(sample)).toEqual([{ name: "f", startLine: 2, endLine: 5, lines: 4 }]);
  });
});
