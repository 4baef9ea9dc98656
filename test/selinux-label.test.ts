// The pki tree's SELinux label, set through libc's extended-attribute calls, must be exactly
// what upstream's `chcon -u system_u -t container_file_t` sets: checked against chcon(1)
// itself on files given the same context first. Without SELinux in the kernel the
// security.selinux attribute is an ordinary one that root may write, and chcon and stat(1)
// read and write it just the same. (The QEMU boot test checks the labels under a policy.)

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { libc } from "../agent/fsio/libc.ts";
import { containerFileContext, labelForContainers } from "../agent/transaction/selinux-label.ts";
import { tempDir } from "./helpers/tree.ts";

const asRoot = process.getuid?.() === 0;
if (!asRoot) console.log("selinux-label: writing security.selinux needs root; skipped");
const rootTest = asRoot ? test : test.skip;

const CONTEXTS = ["unconfined_u:object_r:user_tmp_t:s0", "system_u:object_r:etc_t:s0-s0:c0.c1023", "staff_u:staff_r:cert_t:s0:c1,c2"];

const context = (file: string): string => execFileSync("stat", ["--format=%C", file], { encoding: "utf8" }).trim();

describe("labelling the pki tree for containers", () => {
  for (const initial of CONTEXTS) {
    rootTest(`from ${initial}: through libc and without it, what chcon -u system_u -t container_file_t gives`, () => {
      const directory = tempDir();
      const [byChcon, byLibc, byFallback, aDirectory] = ["chcon", "libc", "fallback", "dir"].map((name) => path.join(directory, name)) as [string, string, string, string];
      for (const file of [byChcon, byLibc, byFallback]) fs.writeFileSync(file, "secret\n", { mode: 0o600 });
      fs.mkdirSync(aDirectory);
      execFileSync("chcon", [initial, byChcon, byLibc, byFallback, aDirectory]);
      execFileSync("chcon", ["-u", "system_u", "-t", "container_file_t", byChcon]);
      labelForContainers([byLibc, aDirectory]);
      labelForContainers([byFallback], null);
      const expected = context(byChcon);
      expect(expected).toBe(containerFileContext(initial)!);
      expect([context(byLibc), context(byFallback), context(aDirectory)]).toEqual([expected, expected, expected]);
    });
  }

  rootTest("a file without a label is an error naming lgetxattr(2) and ENODATA", () => {
    const file = path.join(tempDir(), "unlabeled");
    fs.writeFileSync(file, "");
    expect(libc()).not.toBeNull();
    expect(() => labelForContainers([file])).toThrow(/cannot read the SELinux label of .*unlabeled: lgetxattr\(2\) failed: ENODATA \(no data available; errno 61\)/);
  });

  test("a context that is not user:role:type:level is refused, not guessed at", () => {
    expect(containerFileContext("system_u:object_r:etc_t")).toBeUndefined();
    expect(containerFileContext("")).toBeUndefined();
  });
});
