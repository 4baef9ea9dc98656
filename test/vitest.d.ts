// Test files import from "vitest" so they stay vitest-compatible; `bun test` maps that
// module to bun:test, and this declaration lets tsc type-check them the same way.
declare module "vitest" {
  export * from "bun:test";
}
