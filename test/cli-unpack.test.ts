// The compiled binary as an operator runs it: unpack and pack, every hostile bundle class
// of the README's "Bundle format", exit codes, and "nothing written" after a rejection.

import * as fs from "node:fs";
import * as path from "node:path";
import { execSync } from "node:child_process";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import packageJson from "../package.json" with { type: "json" };
import { AGENT, runAgent } from "./helpers/agent-binary.ts";
import { snapshotTree, tempDir } from "./helpers/tree.ts";
import { recorded } from "./helpers/canary.ts";

const HOSTILE: Array<[string, string | Buffer, number | undefined]> = [
  ["content before the first header", "oops\n##### a\nx", 1],
  ["absolute path", "##### a\nx\n##### /etc/cron.d/evil\n* * * * * root id", 3],
  ["traversal", "##### ../../../etc/shadow\nx", 1],
  ["dot segment", "##### tls/./k8s/ca.key\nx", 1],
  ["empty segment", "##### tls//ca.key\nx", 1],
  ["backslash", "##### tls\\ca.key\nx", 1],
  ["control character", "##### a\u001bb\nx", 1],
  ["long segment", `##### ${"n".repeat(256)}\nx`, 1],
  ["duplicate", "##### a\n1\n##### a\n2", 3],
  ["CR", "##### a\r\nx", 1],
  ["NUL", Buffer.from("##### a\nx\u0000y\n"), 2],
  ["##### in content", "##### a\nkey: ##### value\n", 2],
  ["extra fields", "##### a extra\nx", 1],
  ["header after header", "##### a\n##### b\nx", 2],
  ["truncated last header", "##### a\nx\n##### b", 3],
  ["empty bundle", "", undefined],
];

describe("unpack rejects hostile bundles: exit 65, line named, nothing written", () => {
  test.each(HOSTILE)("%s", async (_title, bundle, line) => {
    const work = tempDir();
    const target = path.join(work, "out");
    fs.mkdirSync(path.join(target, "tls"), { recursive: true });
    fs.writeFileSync(path.join(target, "tls/existing.crt"), "keep me\n");
    const before = snapshotTree(target);
    fs.writeFileSync(path.join(work, "bundle"), bundle);
    for (const args of [
      ["unpack", path.join(work, "bundle"), "-C", target],
      ["unpack", "-", "-C", target, "--awk"],
    ]) {
      const result = await runAgent(args, { input: Buffer.from(bundle) });
      expect(result.exitCode, result.stderr as string).toBe(65);
      if (line !== undefined) expect(result.stderr).toContain(`line ${line}:`);
      expect((result.stderr as string).split("\n").filter(Boolean).length).toBeLessThanOrEqual(2);
      expect(snapshotTree(target)).toEqual(before);
    }
    fs.rmSync(work, { recursive: true });
  });

  test("a target that did not exist is not left behind, nor any parent made for it", async () => {
    const work = tempDir();
    fs.writeFileSync(path.join(work, "bundle"), "##### a\nx\n##### ../b\ny");
    const result = await runAgent(["unpack", path.join(work, "bundle"), "-C", path.join(work, "new/x/out")]);
    expect(result.exitCode).toBe(65);
    expect(fs.readdirSync(work)).toEqual(["bundle"]);
    fs.rmSync(work, { recursive: true });
  });

  test("a target that is a symlink is followed; a rejection leaves both link and directory as they were", async () => {
    const work = tempDir();
    fs.mkdirSync(path.join(work, "real"));
    fs.writeFileSync(path.join(work, "real/old"), "old\n");
    fs.symlinkSync("real", path.join(work, "link"));
    const rejected = await runAgent(["unpack", "-", "-C", path.join(work, "link")], { input: "##### a\nx\n##### ../b\ny" });
    expect(rejected.exitCode).toBe(65);
    expect(fs.readdirSync(path.join(work, "real"))).toEqual(["old"]);
    const result = await runAgent(["unpack", "-", "-C", path.join(work, "link")], { input: "##### a\nx" });
    expect(result.exitCode, result.stderr as string).toBe(0);
    expect(fs.readlinkSync(path.join(work, "link"))).toBe("real");
    expect(fs.readFileSync(path.join(work, "real/a"), "utf8")).toBe("x");
    fs.rmSync(work, { recursive: true });
  });
});

describe("unpack writes safely", () => {
  test("files are 0600, directories 0700, parents created, existing files replaced", async () => {
    const work = tempDir();
    const target = path.join(work, "out");
    fs.mkdirSync(path.join(target, "tls"), { recursive: true });
    fs.writeFileSync(path.join(target, "tls/ca.key"), "old\n");
    fs.writeFileSync(path.join(target, "other"), "untouched\n");
    const result = await runAgent(["unpack", "-", "-C", target], { input: "##### tls/ca.key\nnew\n\n##### deep/er/file\ncontent" });
    expect(result.exitCode, result.stderr as string).toBe(0);
    expect(fs.readFileSync(path.join(target, "tls/ca.key"), "utf8")).toBe("new\n");
    expect(fs.readFileSync(path.join(target, "deep/er/file"), "utf8")).toBe("content");
    expect(fs.readFileSync(path.join(target, "other"), "utf8")).toBe("untouched\n");
    expect(fs.statSync(path.join(target, "deep/er/file")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(target, "deep/er")).mode & 0o777).toBe(0o700);
    fs.rmSync(work, { recursive: true });
  });

  test("a symlink inside the target is never followed (exit 73, nothing written)", async () => {
    const work = tempDir();
    const target = path.join(work, "out");
    const outside = path.join(work, "outside");
    fs.mkdirSync(target);
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, path.join(target, "tls"));
    const result = await runAgent(["unpack", "-", "-C", target], { input: "##### a\n1\n##### tls/ca.key\nsecret\n" });
    expect(result.exitCode).toBe(73);
    expect(result.stderr).toContain("symlink");
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.readdirSync(target).sort()).toEqual(["tls"]);
    fs.rmSync(work, { recursive: true });
  });

  test("a missing bundle is exit 66; a target that is a file is exit 73", async () => {
    const work = tempDir();
    const missing = await runAgent(["unpack", path.join(work, "nope"), "-C", path.join(work, "out")]);
    expect(missing.exitCode).toBe(66);
    expect(missing.stderr).toContain("no bundle at");
    fs.writeFileSync(path.join(work, "file"), "");
    const notDirectory = await runAgent(["unpack", "-", "-C", path.join(work, "file")], { input: "##### a\nx" });
    expect(notDirectory.exitCode).toBe(73);
    fs.rmSync(work, { recursive: true });
  });

  test("a pipe or character device named as the bundle is streamed like -; a directory is exit 66", async () => {
    const work = tempDir();
    const bundle = "##### a\nfirst\n##### b/c\nlast\n";
    fs.writeFileSync(path.join(work, "bundle"), bundle);
    const script = `"$1" unpack <(cat "$2/bundle") -C "$2/fifo" && "$1" unpack /dev/stdin -C "$2/stdin" < "$2/bundle"`;
    const result = recorded("unpack in a shell", await execa("bash", ["-c", script, "bash", AGENT, work], { reject: false }));
    expect(result.exitCode, result.stderr).toBe(0);
    for (const out of ["fifo", "stdin"]) {
      expect(fs.readFileSync(path.join(work, out, "a"), "utf8")).toBe("first");
      expect(fs.readFileSync(path.join(work, out, "b/c"), "utf8")).toBe("last\n");
    }
    const directory = await runAgent(["unpack", work, "-C", path.join(work, "out")]);
    expect(directory.exitCode).toBe(66);
    expect(directory.stderr).toContain("not a regular file");
    fs.rmSync(work, { recursive: true });
  });

  test("stdin delivered one byte per read gives the same tree", async () => {
    const work = tempDir();
    const bundle = "##### a\nfirst\n\n##### b/c\n\n##### d\nlast";
    // A shell loop writes the bundle one byte at a time into the pipe.
    const script = `printf '%s' "$1" | while IFS= read -r -n1 -d '' c; do printf '%s' "$c"; sleep 0.001; done | "$2" unpack - -C "$3"`;
    const result = recorded("unpack in a shell", await execa("bash", ["-c", script, "bash", bundle, AGENT, path.join(work, "out")], { reject: false }));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(fs.readFileSync(path.join(work, "out/a"), "utf8")).toBe("first\n");
    expect(fs.readFileSync(path.join(work, "out/b/c"), "utf8")).toBe("");
    expect(fs.readFileSync(path.join(work, "out/d"), "utf8")).toBe("last");
    fs.rmSync(work, { recursive: true });
  });

  test("memory stays flat: 100 MB through stdin in well under 64 MB peak RSS", async () => {
    const work = tempDir();
    const generator = `
      line=$(head -c 57 /dev/zero | tr '\\0' 'A')
      block=$(for i in $(seq 1 1600); do echo "$line"; done)
      for f in $(seq 1 1000); do printf '##### d%d/f%d\\n%s\\n' $((f % 10)) $f "$block"; done`;
    const measure = `(${generator}) | /usr/bin/time -f %M -o "$1/rss" "$2" unpack - -C "$1/out" > "$1/summary" && du -sb "$1/out" | cut -f1`;
    const result = recorded("unpack measured", await execa("bash", ["-c", measure, "bash", work, AGENT], { reject: false }));
    expect(result.exitCode, result.stderr).toBe(0);
    expect(Number(result.stdout)).toBeGreaterThan(90_000_000);
    expect(fs.readFileSync(path.join(work, "summary"), "utf8")).toMatch(/^unpacked 1000 assets \(\d+ MB\) into /);
    const peakKilobytes = Number(fs.readFileSync(path.join(work, "rss"), "utf8").trim());
    console.log(`peak RSS unpacking ~93 MB from stdin: ${(peakKilobytes / 1024).toFixed(1)} MB`);
    expect(peakKilobytes).toBeLessThan(64 * 1024);
    fs.rmSync(work, { recursive: true });
  }, 60_000);
});

describe("pack", () => {
  test("refuses content unpack would reject, naming the file and line, writing nothing", async () => {
    const work = tempDir();
    fs.mkdirSync(path.join(work, "tree/tls"), { recursive: true });
    fs.writeFileSync(path.join(work, "tree/a"), "fine\n");
    fs.writeFileSync(path.join(work, "tree/tls/bad"), "one\ntwo\n##### three\n");
    const result = await runAgent(["pack", path.join(work, "tree"), "-o", path.join(work, "bundle")]);
    expect(result.exitCode).toBe(65);
    expect(result.stderr).toContain("tls/bad line 3");
    expect(fs.readdirSync(work)).toEqual(["tree"]);
    fs.writeFileSync(path.join(work, "tree/tls/bad"), "windows\r\n");
    expect((await runAgent(["pack", path.join(work, "tree"), "-o", path.join(work, "bundle")])).exitCode).toBe(65);
    fs.rmSync(work, { recursive: true });
  });

  // `pack DIR -o /dev/null` ("does it pack?") once replaced /dev/null with a root-only file holding every key.
  const SPECIAL_OUTPUTS: Array<[string, (file: string, work: string) => void]> = [
    ["a character device", (file) => execSync(`mknod ${file} c 1 3`)],
    ["a FIFO", (file) => execSync(`mkfifo ${file}`)],
    ["a symlink to a regular file", (file, work) => (fs.writeFileSync(path.join(work, "target"), "mine\n"), fs.symlinkSync(path.join(work, "target"), file))],
    ["a symlink to a device", (file) => fs.symlinkSync("/dev/null", file)],
    ["a dangling symlink", (file) => fs.symlinkSync("nowhere", file)],
    ["a directory", (file) => fs.mkdirSync(file)],
  ];
  for (const [what, make] of SPECIAL_OUTPUTS) {
    test.skipIf(process.getuid?.() !== 0)(`-o naming ${what}: exit 73 naming it, nothing replaced, no temp file`, async () => {
      const work = tempDir();
      fs.mkdirSync(path.join(work, "tree"));
      fs.writeFileSync(path.join(work, "tree/a"), "fine\n");
      const output = path.join(work, "out");
      make(output, work);
      const before = snapshotTree(work);
      const result = await runAgent(["pack", path.join(work, "tree"), "-o", output]);
      expect({ exitCode: result.exitCode, stdout: result.stdout }).toEqual({ exitCode: 73, stdout: "" });
      expect(result.stderr).toContain(`${output} is a `);
      expect(result.stderr).toContain("hint: name a new or regular file");
      expect(snapshotTree(work)).toEqual(before);
      fs.rmSync(work, { recursive: true });
    });
  }

  test("an empty tree is not a bundle; a missing one is exit 66", async () => {
    const work = tempDir();
    expect((await runAgent(["pack", work, "-o", path.join(work, "x")])).exitCode).toBe(65);
    expect((await runAgent(["pack", path.join(work, "missing")])).exitCode).toBe(66);
    fs.rmSync(work, { recursive: true });
  });
});

describe("help and version", () => {
  test("--version prints the package version", async () => {
    const result = await runAgent(["--version"]);
    expect(result.exitCode).toBe(0);
    expect((result.stdout as string).trim()).toBe(packageJson.version);
  });

  test("--version alone, answered before yargs loads, prints what yargs prints for it", async () => {
    const alone = await runAgent(["--version"]);
    const parsed = await runAgent(["apply", "--version"]);
    expect(parsed.exitCode).toBe(0);
    expect(alone.stdout).toBe(parsed.stdout);
    expect(alone.stderr).toBe("");
  });

  test("--help documents every command with an example", async () => {
    const top = await runAgent(["--help"]);
    expect(top.exitCode).toBe(0);
    for (const command of ["apply", "plan", "rollback", "verify", "unpack", "pack", "render"]) {
      expect(top.stdout).toContain(`typhoon-agent ${command}`);
      const help = await runAgent([command, "--help"]);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain("Examples:");
    }
    expect(top.stdout).toContain("Exit codes:");
  });

  test("usage errors exit 2 with a hint", async () => {
    const unknown = await runAgent(["frobnicate"]);
    expect(unknown.exitCode).toBe(2);
    const missing = await runAgent(["unpack", "bundle"]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("directory");
  });
});
