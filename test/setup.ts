// Preloaded by bun test (bunfig.toml): an afterAll here runs once, after every test file.
// First the secret canary (helpers/canary.ts): no fragment of any private key the run
// generated may appear in any output the helpers recorded, nor in any file left in the test
// trees but the secrets' own (installed or unpacked keys and kubeconfigs, bundles, backups).
// Then the trees go: they hold generated keys and add up to thousands of directories a day;
// KEEP_TEST_TMP=1 keeps them for a look.

import { afterAll } from "vitest";
import { generatedPrivateKeys } from "../scripts/pki.ts";
import { fragmentsOf, leaksInOutputs, leaksInTrees } from "./helpers/canary.ts";
import { removeTempDirs, tempDirs } from "./helpers/tree.ts";

/** The names secrets are installed and unpacked under: a key, a kubeconfig. */
const SECRET_FILE = /\.(key|conf)$|^kubeconfig$/;

afterAll(() => {
  const fragments = fragmentsOf(generatedPrivateKeys());
  const leaks = [...leaksInOutputs(fragments), ...leaksInTrees(tempDirs(), fragments, (name) => SECRET_FILE.test(name))];
  if (process.env.KEEP_TEST_TMP !== "1") removeTempDirs();
  if (leaks.length > 0) throw new Error(`secret canary: a fragment of a private key the tests generated was found where no secret belongs:\n${leaks.join("\n")}`);
});
