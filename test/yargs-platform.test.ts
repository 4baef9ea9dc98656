// What scripts/build.ts gives yargs in the binary instead of its own modules must behave like
// them: the deferred built-ins like the built-ins, yargs' English strings like y18n's (the
// real package, reading no locale file), and the platform's pieces like what yargs' own shim
// hands over. The CLI tests run the binary built with them.

import * as fs from "node:fs";
import * as path from "node:path";
import * as util from "node:util";
import realY18n from "y18n";
import yargsParser from "yargs-parser";
import { describe, expect, test } from "vitest";
import * as deferred from "../agent/deferred-builtins.ts";
import { argsert } from "../agent/yargs-argsert.ts";
import platform from "../agent/yargs-platform.ts";
import { tempDir } from "./helpers/tree.ts";

describe("the deferred built-ins yargs-parser gets", () => {
  test("answer as node:util, node:path, node:fs and node:module do", () => {
    for (const args of [["%s=%d", "a", 1], ["plain"], ["%j", { a: [1] }], ["100%%"]] as const) expect(deferred.format(...args)).toBe(util.format(...args));
    expect(deferred.normalize("/a/./b/../c/")).toBe(path.normalize("/a/./b/../c/"));
    expect(deferred.resolve("/a", "b", "../c")).toBe(path.resolve("/a", "b", "../c"));
    const file = path.join(tempDir(), "config.json");
    fs.writeFileSync(file, '{"a": 1}');
    expect(deferred.readFileSync(file, "utf8")).toBe('{"a": 1}');
    expect(deferred.createRequire(import.meta.url)(file)).toEqual({ a: 1 });
  });
});

describe("yargs' platform", () => {
  const y18n = realY18n({ directory: path.join(tempDir(), "no-locales"), updateFiles: false });

  test("formats yargs' strings as y18n does", () => {
    const cases: Array<[string, ...unknown[]]> = [
      ["Positionals:"],
      ["Not enough arguments following: %s", "lock-wait"],
      ["Invalid values:"],
      ["Did you mean %s?", "apply"],
      ["Argument: %s, Given: %s, Choices: %s", "what", '"foo"', '"kubelet", "config"'],
    ];
    for (const [text, ...args] of cases) expect(platform.y18n.__(text, ...args)).toBe(y18n.__(text, ...(args as string[])));
    for (const quantity of [0, 1, 2]) {
      const plural = ["Not enough non-option arguments: got %s, need at least %s", "Not enough non-option arguments: got %s, need at least %s", quantity, 0, 1] as const;
      expect(platform.y18n.__n(...plural)).toBe(y18n.__n(...plural));
      expect(platform.y18n.__n("Missing required argument: %s", "Missing required arguments: %s", quantity, "a, b")).toBe(
        y18n.__n("Missing required argument: %s", "Missing required arguments: %s", quantity, "a, b"),
      );
    }
  });

  test("updateStrings overrides a string, as with y18n", () => {
    const strings = { ...platform.y18n };
    strings.updateLocale({ "Show help": "Help, please" });
    expect(strings.__("Show help")).toBe("Help, please");
  });

  test("hands yargs the parser, paths, cliui and string widths of its own shim", () => {
    expect(platform.Parser.detailed(["--lock-wait", "3", "x"], { number: ["lock-wait"] }).argv).toEqual(yargsParser.detailed(["--lock-wait", "3", "x"], { number: ["lock-wait"] }).argv);
    expect(platform.path.relative("/a/b", "/a/c/d")).toBe(path.relative("/a/b", "/a/c/d"));
    expect(platform.stringWidth("日本")).toBe(4);
    const ui = platform.cliui({ width: 20 }) as { div(text: string): void; toString(): string };
    ui.div("a b c d e f g h i j k l m n");
    expect(ui.toString()).toBe("a b c d e f g h i j\nk l m n");
    expect(platform.findUp()).toBeUndefined();
    expect(() => platform.assert.notStrictEqual(1, 1, "same")).toThrow("same");
    expect(() => platform.require()).toThrow(/not supported/);
  });
});

test("every call the agent makes of yargs' API passes yargs' own argsert, which the binary leaves out", async () => {
  // Here yargs runs unsubstituted, argsert included: it warns on a call it finds wrong.
  const { main } = await import("../agent/cli.ts");
  const warnings: unknown[][] = [];
  const { warn, log } = console;
  console.warn = (...args: unknown[]) => void warnings.push(args);
  console.log = () => {};
  try {
    for (const command of ["apply", "plan", "rollback", "verify", "render", "unpack", "pack", "completion"]) {
      expect(await main([command, "--help"]), command).toBe(0);
    }
  } finally {
    Object.assign(console, { warn, log });
  }
  expect(warnings).toEqual([]);
  expect(argsert()).toBeUndefined();
});
