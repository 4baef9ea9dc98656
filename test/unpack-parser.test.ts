import { describe, expect, test } from "vitest";
import { BundleError } from "../agent/errors.ts";
import { MAX_NAME_BYTES } from "../agent/unpack/asset-name.ts";
import { asText, decode } from "./helpers/decode.ts";

const CHUNK_SIZES = [1, 2, 3, 5, 6, 7, 13, 64, undefined];

function expectRejected(bundle: string | Buffer, line: number | undefined, message: RegExp): void {
  for (const chunkSize of CHUNK_SIZES) {
    let caught: unknown;
    try {
      decode(bundle, chunkSize === undefined ? {} : { chunkSize });
    } catch (error) {
      caught = error;
    }
    expect(caught, `chunk size ${chunkSize}`).toBeInstanceOf(BundleError);
    const error = caught as BundleError;
    expect(error.exitCode).toBe(65);
    expect(error.line, `chunk size ${chunkSize}: ${error.message}`).toBe(line);
    expect(error.message).toMatch(message);
    expect(error.hint, `${error.message}: says what to do`).toEqual(expect.any(String));
  }
}

describe("exact mode is the inverse of Terraform's join", () => {
  test.each([
    ["two assets, no trailing newlines", "##### a\nx\n##### b\ny", { a: "x", b: "y" }],
    ["trailing newlines kept", "##### a\nx\n\n##### b\ny\n", { a: "x\n", b: "y\n" }],
    ["empty asset before another", "##### a\n\n##### b\ny", { a: "", b: "y" }],
    ["empty last asset", "##### a\nx\n##### b\n", { a: "x", b: "" }],
    ["blank lines are content", "##### a\n\n\n\n##### b\n\n", { a: "\n\n", b: "\n" }],
    ["#### lines are not headers", "##### a\n#### four\n# one\n####\n", { a: "#### four\n# one\n####\n" }],
    ["UTF-8 names and content", "##### données/日本.yaml\nclé: 値\n", { "données/日本.yaml": "clé: 値\n" }],
    ["nested paths", "##### tls/k8s/ca.crt\nPEM\n##### tls/k8s/ca.key\nKEY", { "tls/k8s/ca.crt": "PEM", "tls/k8s/ca.key": "KEY" }],
    ["a name containing # characters", "##### a#####b\nx", { "a#####b": "x" }],
  ])("%s", (_title, bundle, expected) => {
    for (const chunkSize of CHUNK_SIZES) {
      expect(asText(decode(bundle, chunkSize === undefined ? {} : { chunkSize }).assets)).toEqual(expected);
    }
  });

  test("assets in any order are accepted and keep their header lines", () => {
    const decoded = decode("##### z\n1\n2\n##### a\n3\n");
    expect(decoded.order).toEqual(["z", "a"]);
    expect(decoded.lines.get("z")).toBe(1);
    expect(decoded.lines.get("a")).toBe(4);
  });

  test("very long lines, across every read boundary", () => {
    const long = "x".repeat(200_000);
    const bundle = `##### a\n${long}\n${long}\n##### b\n${long}`;
    for (const chunkSize of [1, 7, 4096, 65_536, undefined]) {
      const assets = decode(bundle, chunkSize === undefined ? {} : { chunkSize }).assets;
      expect(assets.get("a")!.length).toBe(long.length * 2 + 1);
      expect(assets.get("b")!.toString()).toBe(long);
    }
  });

  test("one-byte reads give the same assets", () => {
    const bundle = "##### a\nx\n\n##### b/c\n\n##### d\n";
    expect(asText(decode(bundle, { readSize: 1 }).assets)).toEqual({ a: "x\n", "b/c": "", d: "" });
  });

  test("binary bytes other than CR and NUL pass through untouched", () => {
    const content = Buffer.from([0x01, 0x7f, 0x80, 0xff, 0x0a, 0xc3]);
    const bundle = Buffer.concat([Buffer.from("##### bin\n"), content]);
    expect(decode(bundle).assets.get("bin")).toEqual(content);
  });
});

describe("rejections name the line (exit 65)", () => {
  test("an empty bundle", () => expectRejected("", undefined, /empty/));
  test("content before the first header", () => expectRejected("hello\n##### a\nx", 1, /before the first header/));
  test("a lone newline", () => expectRejected("\n", 1, /before the first header/));
  test("an absolute path", () => expectRejected("##### a\nx\n##### /etc/passwd\nroot", 3, /absolute/));
  test("a .. segment", () => expectRejected("##### ../../etc/shadow\nx", 1, /"\.\." segment/));
  test("a . segment", () => expectRejected("##### a/./b\nx", 1, /"\." segment/));
  test("an empty segment", () => expectRejected("##### a//b\nx", 1, /empty path segment/));
  test("a trailing slash", () => expectRejected("##### a/\nx", 1, /empty path segment/));
  test("a backslash", () => expectRejected("##### a\\b\nx", 1, /backslash/));
  test("a control character", () => expectRejected("##### a\u0001b\nx", 1, /control character 0x01/));
  test("DEL", () => expectRejected("##### a\u007fb\nx", 1, /control character 0x7f/));
  test("extra fields in a header", () => expectRejected("##### a b\nx", 1, /more than one field/));
  test("a tab in a header", () => expectRejected("##### a\tb\nx", 1, /more than one field/));
  test("an empty name", () => expectRejected("##### \nx", 1, /empty/));
  test("a segment over 255 bytes", () => expectRejected(`##### ${"a".repeat(256)}\nx`, 1, /longer than 255/));
  test("a segment of exactly 255 bytes is fine", () => {
    expect(decode(`##### ${"a".repeat(255)}\nx`).assets.size).toBe(1);
  });
  test("a name over 4096 bytes", () => expectRejected(`##### ${"a/".repeat(2100)}b\nx`, 1, /longer than/));
  test("the name -", () => expectRejected("##### -\nx", 1, /standard output/));
  test("a name in the agent's own temporary namespace", () => {
    expectRejected("##### .typhoon-agent-unpack.42/keep\nx", 1, /reserves for its temporary files/);
    expectRejected("##### manifests/.typhoon-agent.1.1.tmp\nx", 1, /reserves for its temporary files/);
  });
  test("invalid UTF-8 in a name", () => expectRejected(Buffer.from([...Buffer.from("##### a"), 0xff, 0x0a, 0x78]), 1, /UTF-8/));
  test("a duplicate name", () => expectRejected("##### a\n1\n##### b\n2\n##### a\n3", 5, /duplicate asset "a" \(first at line 1\)/));
  test("a name that is also a directory", () => expectRejected("##### a\n1\n##### a/b\n2", 3, /needs "a" as a directory/));
  test("a directory that is also a name", () => expectRejected("##### a/b\n1\n##### a\n2", 3, /also a directory/));
  test("a carriage return", () => expectRejected("##### a\nline\r\n##### b\nx", 2, /carriage return/));
  test("a carriage return in a header", () => expectRejected("##### a\r\nx", 1, /carriage return/));
  test("a NUL byte", () => expectRejected("##### a\n1\n2\n3\0\n", 4, /NUL/));
  test("##### inside a content line", () => expectRejected("##### a\nfoo #####\n", 2, /inside a content line/));
  test("###### at the start of a line", () => expectRejected("##### a\n###### b\n", 2, /malformed header/));
  test("##### alone on a line", () => expectRejected("##### a\nx\n#####\ny", 3, /malformed header/));
  test("a header directly after a header", () => expectRejected("##### a\n##### b\nx", 2, /directly follows the header at line 1/));
  test("a last header without its newline", () => expectRejected("##### a\nx\n##### b", 3, /no newline/));
  test("a header that is only a header, unterminated", () => expectRejected("##### a", 1, /no newline/));
  test("##### split across reads inside a long line", () => {
    expectRejected(`##### a\n${"x".repeat(9000)}#####${"y".repeat(9000)}\n`, 2, /inside a content line/);
  });
  test("##### inside a long line, at every offset around the read boundaries", () => {
    // The parser scans a buffer of one header line plus a chunk; a long content line is
    // scanned up to a few bytes before the buffer's end. A marker may straddle that point.
    for (const chunkSize of [7, 64, 1 << 20]) {
      const buffer = 6 + MAX_NAME_BYTES + chunkSize;
      const head = "##### a\n";
      for (const boundary of [buffer - 4, 2 * buffer - 8, 3 * buffer - 12]) {
        for (let at = boundary - 12; at <= boundary + 12; at++) {
          const line = `${"x".repeat(at - head.length)}#####${"y".repeat(2 * buffer)}`;
          let caught: unknown;
          try {
            decode(`${head}${line}\n##### b\nz\n`, { chunkSize });
          } catch (error) {
            caught = error;
          }
          expect({ chunkSize, at, rejected: caught instanceof BundleError && /inside a content line/.test(caught.message) }).toEqual({ chunkSize, at, rejected: true });
        }
      }
    }
  });
  test("a long line that starts with #####", () => expectRejected(`##### a\n##### ${"b".repeat(9000)}\n`, 2, /longer than|header longer/));
  test("the earliest problem is the one reported", () => expectRejected("##### a\nx\r\n##### /abs\n", 2, /carriage return/));
});
