// Parsed JSON and YAML documents are `unknown` until checked; these are the checks.

export type JsonObject = Record<string, unknown>;

/** A mapping (not null, not a list). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * What a YAML parser found wrong, without the text it parsed: files it reads hold keys
 * (kubeconfigs), and js-yaml's message quotes an excerpt around the error. Its reason, with
 * the names it quotes (an alias, a tag) left out, and the position.
 */
export function yamlProblem(error: unknown): string {
  const { reason, mark } = error as { reason?: unknown; mark?: { line?: unknown; column?: unknown } };
  const words = typeof reason === "string" ? reason.replace(/"[^"]*"/g, '"…"').replace(/!<[^>]*>/g, "!<…>").replace(/(such characters):.*$/, "$1").slice(0, 120) : "not valid YAML";
  const line = typeof mark?.line === "number" ? mark.line + 1 : undefined;
  const column = typeof mark?.column === "number" ? mark.column + 1 : undefined;
  return line === undefined ? words : `${words} at line ${line}${column === undefined ? "" : `, column ${column}`}`;
}
