// yargs checks the arguments of each of its own API calls (.option(), .command(), ...)
// against a signature string it parses again on every call, and only prints a warning when
// they do not match (build/lib/argsert.js). The agent's calls are checked by the TypeScript
// compiler against yargs' types instead, so scripts/build.ts gives the binary this, which
// checks nothing: measured with BUN_OPTIONS=--cpu-prof, argsert was 8% of a `plan`.
export function argsert(): void {}
