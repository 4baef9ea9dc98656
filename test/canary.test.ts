// The secret canary can fail: a fragment of a generated key planted in an output or in a file
// of a test tree is found, wherever in the text it sits and however it was encoded (a PEM
// line, or the base64 of a whole PEM, as a kubeconfig embeds it), while the secret's own
// places (the key file itself, a bundle, a backup) and its public part (in every certificate) are
// not counted as leaks.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { newKeyPair } from "../scripts/pki.ts";
import { fragmentsOf, leakIn, leaksInTrees } from "./helpers/canary.ts";
import { tempDir } from "./helpers/tree.ts";

const isSecretName = (name: string): boolean => /\.(key|conf)$/.test(name);

describe("the secret canary", () => {
  test("finds an excerpt of a key in any output, in PEM or base64 form, and nothing in output without one", async () => {
    const { key, publicKey } = await newKeyPair();
    const fragments = fragmentsOf([key]);
    const body = key.split("\n").slice(1, -2).join("");
    const encoded = Buffer.from(key).toString("base64");
    for (const at of [400, 777, 1333, body.length - 40]) {
      expect(leakIn(`error: unexpected ${body.slice(at, at + 31)} at line 3`, fragments), `PEM excerpt at ${at}`).toBeDefined();
    }
    for (const at of [600, 901, encoded.length - 100]) {
      expect(leakIn(`client-key-data: ${encoded.slice(at, at + 31)}…`, fragments), `base64 excerpt at ${at}`).toBeDefined();
    }
    expect(leakIn(`${body.slice(500, 522)} is too short to tell`, fragments)).toBeUndefined();
    // The modulus and public exponent are in the key too, and in every certificate of it: no secret.
    expect(leakIn(`modulus ${body.slice(40, 300)}`, fragments)).toBeUndefined();
    expect(leakIn(publicKey, fragments)).toBeUndefined();
    expect(leakIn("/etc/kubernetes/pki/apiserver.key has mode 0644, expected 0400 sha256 5b9875489eab0c2d6f9d0ad7e3b4a0b5e1b7fd5f3e6c2c0d3b0a6f2b1c4d5e6f", fragments)).toBeUndefined();
  });

  test("finds a planted leak in a test tree, and leaves the secret's own file, a bundle and a backup alone", async () => {
    const { key } = await newKeyPair();
    const fragments = fragmentsOf([key]);
    const root = tempDir("typhoon-canary-");
    const excerpt = key.split("\n")[12]!.slice(3, 40);
    fs.mkdirSync(path.join(root, "var/lib/typhoon-agent/backups"), { recursive: true });
    fs.writeFileSync(path.join(root, "apiserver.key"), key);
    fs.writeFileSync(path.join(root, "assets"), `##### tls/k8s/apiserver.key\n${key}`);
    fs.writeFileSync(path.join(root, "var/lib/typhoon-agent/backups/20260101T000000000Z.tar"), key);
    expect(leaksInTrees([root], fragments, isSecretName)).toEqual([]);
    fs.writeFileSync(path.join(root, "var/lib/typhoon-agent/result.json"), JSON.stringify({ error: `line 7: ${excerpt}` }));
    fs.writeFileSync(path.join(root, ".typhoon-agent.20260101T000000000Z.1.tmp"), key);
    expect(leaksInTrees([root], fragments, isSecretName).sort()).toEqual([
      `${root}/.typhoon-agent.20260101T000000000Z.1.tmp holds a fragment of a private key`,
      `${root}/var/lib/typhoon-agent/result.json holds a fragment of a private key`,
    ]);
    // Planted on purpose: left here, the check over the whole run (test/setup.ts) would fail it.
    fs.rmSync(root, { recursive: true });
  });
});
