// Bounded fuzzing in every test run; `npm run fuzz` runs the same loop for longer.

import { expect, test } from "vitest";
import { runFuzz } from "./helpers/fuzz-run.ts";
import { runSeed } from "./helpers/random.ts";

test("fuzz: valid bundles match gawk and mawk, near-valid ones are refused with nothing written", async () => {
  const seed = runSeed();
  const report = await runFuzz({ seed, cases: 400, milliseconds: 25_000, binaryEvery: 10 });
  console.log(`fuzz seed ${seed}: ${report.cases} cases (${report.valid} valid, ${report.invalid} invalid); replay with TEST_SEED=${seed}`);
  expect(report.failures).toEqual([]);
  expect(report.valid).toBeGreaterThan(20);
  expect(report.invalid).toBeGreaterThan(20);
}, 60_000);
