// Parsed JSON and YAML documents are `unknown` until checked; these are the checks.

export type JsonObject = Record<string, unknown>;

/** A mapping (not null, not a list). */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
