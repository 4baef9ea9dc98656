// The shape the developer guide sets for the agent's code, kept true by measurement: no file
// over 300 lines, no function over 60; data flowing one way (no import cycle, and the folder
// rules below); no export without an importer.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { codeOnly, exportedNames, functionSpans, importsOf, sourceFiles } from "./helpers/source-shape.ts";

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

/** Folders that must not import from others: the direction data flows in (parse, validate, plan, apply, report). */
const FORBIDDEN_IMPORTS: Readonly<Record<string, readonly string[]>> = {
  "agent/report": ["agent/apply", "agent/metrics", "agent/commands"],
  "agent/metrics": ["agent/apply", "agent/commands"],
  "agent/verify": ["agent/apply", "agent/metrics", "agent/commands"],
  "agent/plan": ["agent/apply", "agent/report", "agent/metrics", "agent/commands"],
  "agent/transaction": ["agent/apply", "agent/plan", "agent/report", "agent/metrics", "agent/commands"],
  "agent/unpack": ["agent/apply", "agent/plan", "agent/report", "agent/metrics", "agent/commands"],
  "agent/placement": ["agent/apply", "agent/plan", "agent/report", "agent/metrics", "agent/verify", "agent/commands"],
};

/** agent/x.ts → the agent modules it imports (types included), resolved. */
function importGraph(): Map<string, string[]> {
  return new Map(
    files.map(({ file, text }) => [
      file,
      importsOf(text)
        .filter(({ specifier }) => specifier.startsWith("."))
        .map(({ specifier }) => path.relative(REPO, path.resolve(REPO, path.dirname(file), specifier)))
        .filter((target) => target.startsWith("agent/")),
    ]),
  );
}

describe("data flows one way", () => {
  const graph = importGraph();

  test("no module imports itself back, however indirectly (type imports included)", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (module: string): void => {
      state.set(module, "open");
      stack.push(module);
      for (const target of graph.get(module) ?? []) {
        if (state.get(target) === "open") cycles.push([...stack.slice(stack.indexOf(target)), target].join(" -> "));
        else if (!state.has(target)) visit(target);
      }
      stack.pop();
      state.set(module, "done");
    };
    for (const module of graph.keys()) if (!state.has(module)) visit(module);
    expect(cycles).toEqual([]);
  });

  test("no folder imports from one downstream of it", () => {
    const wrong = [...graph].flatMap(([module, targets]) => {
      const forbidden = Object.entries(FORBIDDEN_IMPORTS).find(([folder]) => module.startsWith(`${folder}/`))?.[1] ?? [];
      return targets.filter((target) => forbidden.some((folder) => target.startsWith(`${folder}/`))).map((target) => `${module} -> ${target}`);
    });
    expect(wrong).toEqual([]);
  });

  test("the import scanner sees static, type-only and dynamic imports", () => {
    const sample = 'import type { A } from "./a.ts";\nimport {\n  b,\n} from "../b.ts";\n// import { c } from "./c.ts";\nconst d = await import("./d.ts");\n';
    expect(importsOf(sample)).toEqual([
      { specifier: "./a.ts", typeOnly: true },
      { specifier: "../b.ts", typeOnly: false },
      { specifier: "./d.ts", typeOnly: false },
    ]);
  });
});

test("every export of agent/ has an importer outside its file (agent, tests, scripts, packaging)", () => {
  const everything = ["agent", "test", "scripts", "packaging"].flatMap((folder) => sourceFiles(path.join(REPO, folder), REPO)).filter((file) => !file.includes("/fixtures/"));
  const code = new Map(everything.map((file) => [file, codeOnly(fs.readFileSync(path.join(REPO, file), "utf8"))]));
  const unused = files.flatMap(({ file, text }) =>
    exportedNames(text)
      .filter((name) => ![...code].some(([other, otherCode]) => other !== file && new RegExp(`\\b${name.replace("$", "\\$")}\\b`).test(otherCode)))
      .map((name) => `${file}: ${name}`),
  );
  expect(unused).toEqual([]);
});

describe("the module maps", () => {
  const modules = files.map(({ file }) => file);

  test("docs/design.md names every module of agent/, and none that is gone", () => {
    const design = fs.readFileSync(path.join(REPO, "docs/design.md"), "utf8");
    const map = design.slice(design.indexOf("## Modules and data flow"));
    const named = map
      .split("\n")
      .filter((line) => line.startsWith("| `agent/"))
      .flatMap((line) => {
        const names = [...line.split(" | ")[0]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!);
        const folder = path.posix.dirname(names[0]!);
        return names.map((name) => (name.includes("/") ? name : `${folder}/${name}`));
      });
    expect(modules.filter((module) => !named.includes(module))).toEqual([]);
    expect(named.filter((module) => !modules.includes(module))).toEqual([]);
  });

  test("the README's layout names every folder of agent/", () => {
    const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
    const layout = readme.slice(readme.indexOf("\nLayout, one job per module"), readme.indexOf("\n## Limitations"));
    const folders = [...new Set(modules.map((module) => (module.split("/").length > 2 ? `${path.posix.dirname(module)}/` : module)))];
    expect(folders.filter((folder) => !layout.includes(`\`${folder}\``))).toEqual([]);
  });
});
