// Preloaded by bun test (bunfig.toml): an afterAll here runs once, after every test file.
// Test trees hold generated keys and add up to thousands of directories a day; KEEP_TEST_TMP=1
// keeps them for a look.

import { afterAll } from "vitest";
import { removeTempDirs } from "./helpers/tree.ts";

afterAll(() => {
  if (process.env.KEEP_TEST_TMP !== "1") removeTempDirs();
});
