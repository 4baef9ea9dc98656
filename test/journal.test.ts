// Reporting to the systemd journal (docs/design.md, "The journal"): the native protocol encoding, the
// stderr fallback, the message catalog, and a real systemd-journald receiving the entries
// from bun and from a compiled binary.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { encodeEntry, isJournalFieldName, type JournalField } from "../agent/journal/encode.ts";
import { createJournal } from "../agent/journal/journal.ts";
import { EVENTS, type EventFields } from "../agent/report/events.ts";
import { compile } from "../scripts/build.ts";
import { CATALOG_FILE, renderCatalog } from "../scripts/make-catalog.ts";
import { smokeEvents, type SmokeEvent } from "./fixtures/journal-smoke.ts";
import { journaldUnavailable, withJournald, type JournaldRun, type JournalEntry } from "./helpers/journald.ts";
import { tempDir } from "./helpers/tree.ts";

const REPO = path.resolve(import.meta.dir, "..");
const SMOKE = path.join(REPO, "test/fixtures/journal-smoke.ts");

/** The protocol read back, as journald reads it: the reference the encoder is checked against. */
function decodeEntry(datagram: Buffer): JournalField[] {
  const fields: JournalField[] = [];
  let at = 0;
  while (at < datagram.length) {
    const lineEnd = datagram.indexOf(0x0a, at);
    const line = datagram.subarray(at, lineEnd).toString("utf8");
    const equals = line.indexOf("=");
    if (equals >= 0) {
      fields.push([line.slice(0, equals), line.slice(equals + 1)]);
      at = lineEnd + 1;
    } else {
      const length = Number(datagram.readBigUInt64LE(lineEnd + 1));
      const start = lineEnd + 9;
      fields.push([line, datagram.subarray(start, start + length).toString("utf8")]);
      expect(datagram[start + length]).toBe(0x0a);
      at = start + length + 1;
    }
  }
  return fields;
}

describe("encodeEntry: the native protocol", () => {
  test("single-line values use the text form", () => {
    expect(encodeEntry([["MESSAGE", "hello world"], ["PRIORITY", "6"]]).toString()).toBe("MESSAGE=hello world\nPRIORITY=6\n");
  });

  test("a value with a newline uses the binary form: name, 64-bit little-endian length, bytes, newline", () => {
    const expected = Buffer.concat([Buffer.from("TYPHOON_ERROR\n"), Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from("a\nb\n"), Buffer.from("\n")]);
    expect(encodeEntry([["TYPHOON_ERROR", "a\nb\n"]])).toEqual(expected);
  });

  test("empty values, UTF-8 (lengths in bytes) and an '=' in a value", () => {
    const fields: JournalField[] = [["EMPTY", ""], ["UTF8", "café 日本\nzwei"], ["EQUALS", "a=b=c"], ["NL", "\n"]];
    const datagram = encodeEntry(fields);
    expect(datagram.subarray(0, 7).toString()).toBe("EMPTY=\n");
    expect(datagram.readBigUInt64LE(datagram.indexOf("UTF8\n") + 5)).toBe(BigInt(Buffer.byteLength("café 日本\nzwei")));
    expect(decodeEntry(datagram)).toEqual(fields);
  });

  test("a 100 KB multi-line value round-trips byte for byte", () => {
    const large = "0123456789abcdef\n".repeat(6400);
    const fields: JournalField[] = [["MESSAGE", "m"], ["TYPHOON_ERROR", large], ["TYPHOON_PATH", "x".repeat(100 * 1024)]];
    expect(decodeEntry(encodeEntry(fields))).toEqual(fields);
  });

  test.each(["A", "MESSAGE", "TYPHOON_BUNDLE_SHA256", "A1_", "X".repeat(64)])("accepts the field name %s", (name) => {
    expect(isJournalFieldName(name)).toBe(true);
  });

  test.each(["", "message", "_PID", "1ABC", "A-B", "A B", "A=B", "É", "X".repeat(65)])("rejects the field name %j", (name) => {
    expect(isJournalFieldName(name)).toBe(false);
    expect(() => encodeEntry([[name, "v"]])).toThrow(RangeError);
  });
});

/** Emits through a stderr reporter whose lines go to a file, and returns the file's lines. */
function fallbackLines(emit: (reporter: ReturnType<typeof createJournal>) => void, transport: "journal" | "stderr" = "stderr"): string[] {
  const file = path.join(tempDir(), "stderr");
  const fd = fs.openSync(file, "w");
  try {
    emit(createJournal({ transport, fallbackFd: fd }));
  } finally {
    fs.closeSync(fd);
  }
  return fs.readFileSync(file, "utf8").split("\n").slice(0, -1);
}

describe("stderr fallback: one line per event, <priority>message key=value", () => {
  test("fields as short keys; values quoted when they hold spaces, quotes or control characters", () => {
    const lines = fallbackLines((reporter) => {
      reporter.emit("assetInstalled", "installed /etc/kubernetes/pki/ca.crt", {
        TYPHOON_PATH: "/etc/kubernetes/pki/ca.crt",
        TYPHOON_MODE: "0644",
        TYPHOON_OWNER: "root:root",
        TYPHOON_DURATION_MS: 3,
      });
      reporter.emit("applyFailed", "apply failed\nwith detail", { TYPHOON_ERROR: 'no space "left"\non device', TYPHOON_ACTION: "" });
      reporter.emit("certificateExpiring", "ca.crt expires", { TYPHOON_CERT: "/etc/kubernetes/pki/my ca.crt" }, 3);
    });
    expect(lines).toEqual([
      "<6>installed /etc/kubernetes/pki/ca.crt path=/etc/kubernetes/pki/ca.crt mode=0644 owner=root:root duration_ms=3",
      '<3>apply failed\\nwith detail error="no space \\"left\\"\\non device" action=""',
      '<3>ca.crt expires cert="/etc/kubernetes/pki/my ca.crt"',
    ]);
  });

  test("an entry journald would refuse (a bad field name) still reaches stderr, and nothing throws", () => {
    const lines = fallbackLines((reporter) => reporter.emit("applyDone", "done", { "NOT VALID": "x" } as EventFields), "journal");
    expect(lines).toEqual(["<6>done not valid=x"]);
  });

  test("a standard error that cannot be written loses the line but never throws into the caller", () => {
    const file = path.join(tempDir(), "read-only");
    fs.writeFileSync(file, "");
    const fd = fs.openSync(file, "r");
    try {
      expect(() => createJournal({ transport: "stderr", fallbackFd: fd }).emit("applyDone", "done")).not.toThrow();
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe("message catalog", () => {
  test("packaging/typhoon-agent.catalog is what scripts/make-catalog.ts generates from the event table", () => {
    expect(fs.readFileSync(CATALOG_FILE, "utf8")).toBe(renderCatalog());
  });

  test("journalctl --update-catalog accepts it and lists every MESSAGE_ID with its subject", () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, "usr/lib/systemd/catalog"), { recursive: true });
    fs.copyFileSync(CATALOG_FILE, path.join(root, "usr/lib/systemd/catalog/typhoon-agent.catalog"));
    const update = spawnSync("journalctl", [`--root=${root}`, "--update-catalog"], { encoding: "utf8" });
    expect(update.stderr).toBe("");
    expect(update.status).toBe(0);
    const listed = spawnSync("journalctl", [`--root=${root}`, "--list-catalog"], { encoding: "utf8" }).stdout;
    for (const { messageId, title } of Object.values(EVENTS)) expect(listed).toContain(`${messageId} typhoon-agent: ${title[0]!.toUpperCase()}${title.slice(1)}`);
    expect(listed.trim().split("\n")).toHaveLength(Object.keys(EVENTS).length);
  });
});

const unavailable = journaldUnavailable();
if (unavailable !== undefined) console.log(`SKIPPED real-journald tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)("a real systemd-journald", () => {
  // Larger than any send buffer the agent gets (it asks for 8 MiB, the kernel doubles that):
  // sendto fails with EMSGSIZE, the entry goes to stderr.
  const oversize = 16 * 1024 * 1024 + 1024;
  let run: JournaldRun;
  let smokeBinary: string;

  beforeAll(async () => {
    smokeBinary = path.join(tempDir(), "journal-smoke");
    await compile(smokeBinary, { entry: SMOKE });
    run = await withJournald(
      [
        [process.execPath, SMOKE, "script", String(oversize)],
        [smokeBinary, "compiled", String(oversize)],
        ["env", "TYPHOON_AGENT_JOURNAL=stderr", smokeBinary, "forced"],
        ["rm", "/run/systemd/journal/socket"],
        [smokeBinary, "nosocket"],
      ],
      { cwd: REPO },
    );
    expect(run.results.map((result) => [result.argv[1], result.exitCode])).toEqual(run.results.map((result) => [result.argv[1], 0]));
  }, 25_000);

  // The compiled binary is about 100 MB.
  afterAll(() => fs.rmSync(path.dirname(smokeBinary), { recursive: true, force: true }));

  const entriesTagged = (tag: string): JournalEntry[] =>
    run.entries.filter((entry) => entry.SYSLOG_IDENTIFIER === "typhoon-agent" && entry.MESSAGE?.startsWith(`${tag} `));

  function expectEntries(entries: JournalEntry[], expected: SmokeEvent[]): void {
    expect(entries.map((entry) => entry.MESSAGE)).toEqual(expected.map((event) => event.message));
    expected.forEach(({ event, fields, priority }, index) => {
      const entry = entries[index]!;
      const typhoonFields = Object.fromEntries(Object.entries(entry).filter(([name]) => name.startsWith("TYPHOON_")));
      expect({ MESSAGE_ID: entry.MESSAGE_ID, PRIORITY: entry.PRIORITY, _TRANSPORT: entry._TRANSPORT, ...typhoonFields }).toEqual({
        MESSAGE_ID: EVENTS[event].messageId,
        PRIORITY: String(priority ?? EVENTS[event].priority),
        _TRANSPORT: "journal",
        ...Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, String(value)])),
      });
    });
  }

  test.each(["script", "compiled"])("from %s: every event, field and priority; multi-line, UTF-8 and 100 KB values intact", (tag) => {
    const expected = smokeEvents(tag, oversize);
    expectEntries(entriesTagged(tag), expected.slice(0, -1));
    expect(entriesTagged(tag).find((entry) => entry.MESSAGE?.includes("multi-line"))?.TYPHOON_ERROR).toBe("first line\nsecond line\n\n  indented = last\n");
  });

  test.each([
    ["script", 0],
    ["compiled", 1],
  ])("from %s: an entry too large for the socket goes to stderr instead, whole", (tag, index) => {
    expect(entriesTagged(tag).some((entry) => entry.MESSAGE === `${tag} oversize`)).toBe(false);
    expect(run.results[index]!.stderr).toBe(`<6>${tag} oversize error=${"y".repeat(oversize)}\n`);
  });

  test("the raw export holds every byte of the large value and none of the oversize one", () => {
    expect(run.exported.includes("0123456789abcdef\n".repeat(6400))).toBe(true);
    expect(run.exported.includes("yyyyyyyyyyyyyyyy")).toBe(false);
  });

  test.each([
    ["forced (TYPHOON_AGENT_JOURNAL=stderr)", "forced", 2],
    ["no socket", "nosocket", 4],
  ])("%s: the same events are stderr lines, none in the journal", (_title, tag, index) => {
    expect(entriesTagged(tag)).toEqual([]);
    const lines = run.results[index]!.stderr.split("\n").slice(0, -1);
    expect(lines.map((line) => line.slice(0, line.indexOf(" ")))).toEqual(
      smokeEvents(tag, 0).map(({ event, priority }) => `<${priority ?? EVENTS[event].priority}>${tag}`),
    );
    expect(lines.find((line) => line.includes("multi-line"))).toBe(
      `<3>${tag} multi-line\\nsecond line of the message error="first line\\nsecond line\\n\\n  indented = last\\n" exit_code=74`,
    );
  });
});
