// A static pod manifest read as the kubelet reads it, by Bun's native YAML 1.2 parser: merge
// keys (`<<: *defaults`) are merged, as the kubelet's go-yaml does, where js-yaml keeps a
// literal "<<" key and would hide a runAsUser given that way. Native parsing also spares
// apply js-yaml's first parse of the three control-plane pods, measured in a compiled
// binary as longer than the rest of planning. A document Bun refuses goes to js-yaml, for
// the line and reason an operator needs (or, should js-yaml read it, for its result). Like
// bun:ffi, this Bun-only API stays in one small module.

import { load } from "js-yaml";

/** The document in `text`; throws js-yaml's error (with `mark.line`) when it is not YAML. */
export function parseManifest(text: string, filename: string): unknown {
  try {
    return Bun.YAML.parse(text);
  } catch {
    return load(text, { filename });
  }
}
