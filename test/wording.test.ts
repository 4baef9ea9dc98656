// The words an operator reads: every errno the agent can meet rendered in words with a hint,
// counts in singular and plural, and the journal's sentences in plain grammar.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { ERRNO, fromSystemError } from "../agent/errors.ts";
import { logRecovered } from "../agent/report/apply-journal.ts";
import { describeFailure } from "../agent/fsio/libc.ts";
import { constants } from "node:os";
import { EventRecorder } from "./helpers/apply.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { tempDir } from "./helpers/tree.ts";

/** The failures a node's disks, mounts and limits produce; each must be in the table. */
const MET_ON_NODES = ["ENOSPC", "EROFS", "EACCES", "ENAMETOOLONG", "EIO", "ENOTDIR", "ELOOP", "EPERM", "EEXIST", "EBUSY", "EXDEV", "EMFILE", "EDQUOT", "EISDIR", "ENOTEMPTY", "ENFILE", "ENOMEM"];

describe("errno in words, with a hint", () => {
  test("the table holds every errno met on nodes", () => {
    expect(MET_ON_NODES.filter((code) => ERRNO[code] === undefined)).toEqual([]);
  });
  for (const code of Object.keys(ERRNO).filter((code) => code !== "ENOENT")) {
    test(code, () => {
      const cause = Object.assign(new Error(`${code}: failed, open '/x'`), { code, syscall: "open", errno: -1 });
      const error = fromSystemError(cause, "write", "/etc/kubernetes/pki/ca.crt");
      expect(error.message).toBe(`cannot write /etc/kubernetes/pki/ca.crt: ${code} (${ERRNO[code]!.words})`);
      expect(error.hint, `${code} has a hint`).toMatch(/\w{3,}/);
      expect(error.cause).toBe(cause);
    });
  }
});

describe("a libc call's errno (flock, syncfs, the SELinux label): the same words and hint", () => {
  for (const code of Object.keys(ERRNO).filter((code) => code !== "ENOENT")) {
    test(code, () => {
      const errno = (constants.errno as Record<string, number>)[code]!;
      expect(describeFailure("syncfs", errno)).toEqual({ text: `syncfs(2) failed: ${code} (${ERRNO[code]!.words}; errno ${errno})`, hint: ERRNO[code]!.hint });
      expect(describeFailure("syncfs", errno).hint, code).toMatch(/\w{3,}/);
    });
  }
});

describe("journal sentences", () => {
  for (const outcome of ["rolled back", "completed"] as const) {
    test(`a recovered transaction ${outcome}`, () => {
      const recorder = new EventRecorder();
      logRecovered(recorder, { id: "20260101T000000000Z", outcome });
      const message = recorder.events[0]!.message;
      expect(message).not.toContain("rolled back it");
      expect(message).toMatch(outcome === "rolled back" ? / interrupted and rolled it back$/ : / interrupted and completed it$/);
    });
  }
});

describe("counts: one asset, two assets, no assets", () => {
  for (const count of [0, 1, 2]) {
    test(`${count}`, async () => {
      const work = tempDir();
      const tree = path.join(work, "tree");
      fs.mkdirSync(tree);
      for (let index = 0; index < count; index++) fs.writeFileSync(path.join(tree, `a${index}`), "x");
      const noun = count === 1 ? "asset" : "assets";
      const packed = await runAgent(["pack", tree, "-o", path.join(work, "bundle")]);
      if (count === 0) {
        expect(packed.exitCode).not.toBe(0);
        return;
      }
      expect(String(packed.stdout)).toMatch(new RegExp(`^packed ${count} ${noun} \\(`));
      const unpacked = await runAgent(["unpack", path.join(work, "bundle"), "-C", path.join(work, "out")]);
      expect(String(unpacked.stdout)).toMatch(new RegExp(`^unpacked ${count} ${noun} \\(`));
    });
  }
});
