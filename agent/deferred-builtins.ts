// The names yargs-parser imports from node:util, node:path, node:fs and node:module, each
// loading its built-in on first call. scripts/build.ts gives yargs-parser this module in
// place of those four: it imports them when it loads, but calls them only to format an
// error message, to normalize a path option or to read a config file (which the agent's
// options never ask for). node:util alone, whose `format` getter loads the inspect module,
// is measurable on every start.

type Util = typeof import("node:util");
type Path = typeof import("node:path");
type Fs = typeof import("node:fs");
type NodeModule = typeof import("node:module");

export const format: Util["format"] = (...args) => (require("node:util") as Util).format(...args);
export const normalize: Path["normalize"] = (file) => (require("node:path") as Path).normalize(file);
export const resolve: Path["resolve"] = (...parts) => (require("node:path") as Path).resolve(...parts);
export const readFileSync = ((...args: Parameters<Fs["readFileSync"]>) => (require("node:fs") as Fs).readFileSync(...args)) as Fs["readFileSync"];
export const createRequire: NodeModule["createRequire"] = (from) => {
  const load = (id: string): unknown => (require("node:module") as NodeModule).createRequire(from)(id);
  return load as ReturnType<NodeModule["createRequire"]>;
};
