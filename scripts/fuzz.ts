// `npm run fuzz`: the codec fuzz loop of test/fuzz.test.ts, for longer.
//   bun scripts/fuzz.ts [--minutes 5] [--seed N]
import { parseArgs } from "node:util";
import { runFuzz } from "../test/helpers/fuzz-run.ts";

const { values } = parseArgs({ options: { minutes: { type: "string", default: "5" }, seed: { type: "string" } } });
const deadline = performance.now() + Number(values.minutes) * 60_000;
let total = 0;
let round = 0;
while (performance.now() < deadline) {
  const seed = values.seed === undefined ? (Math.random() * 2 ** 31) >>> 0 : Number(values.seed) + round;
  const report = await runFuzz({ seed, cases: 2000, milliseconds: deadline - performance.now(), binaryEvery: 25 });
  total += report.cases;
  round++;
  console.log(`seed ${seed}: ${report.cases} cases (${report.valid} valid, ${report.invalid} invalid), ${total} in all`);
  if (report.failures.length > 0) {
    for (const failure of report.failures) console.error(`FAIL ${failure}`);
    console.error(`replay: TEST_SEED=${seed} bun test test/fuzz.test.ts`);
    process.exit(1);
  }
}
console.log(`no failures in ${total} cases`);
