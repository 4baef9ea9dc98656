// `runtime: auto`: which container runtime runs the kubelet, told by the OS the node runs
// (os-release(5) under the root). Each Typhoon OS ships exactly one of them.

import { ConfigError } from "../errors.ts";
import { readTextIfExists } from "../fsio/read-only.ts";
import { HostRoot } from "../hostfs/host-root.ts";
import type { Runtime, RuntimeChoice } from "../config/types.ts";

export interface ResolvedRuntime {
  runtime: Runtime;
  /** Why this runtime, for the operator: "set in the configuration" or what os-release says. */
  reason: string;
}

interface KnownOS {
  name: string;
  runtime: Runtime;
  matches: (fields: ReadonlyMap<string, string>) => boolean;
}

const KNOWN_OSES: readonly KnownOS[] = [
  { name: "Fedora CoreOS", runtime: "podman", matches: (fields) => fields.get("ID") === "fedora" && fields.get("VARIANT_ID") === "coreos" },
  // Flatcar says ID_LIKE=coreos: only ID tells it from Container Linux.
  { name: "Flatcar Container Linux", runtime: "docker", matches: (fields) => fields.get("ID") === "flatcar" },
  { name: "Container Linux", runtime: "rkt", matches: (fields) => fields.get("ID") === "coreos" },
];

/** os-release(5): /etc/os-release, or /usr/lib/os-release where the former is missing. */
const OS_RELEASE_PATHS = ["/etc/os-release", "/usr/lib/os-release"];

const SET_RUNTIME_HINT = "set runtime (podman, docker or rkt) in /etc/typhoon/agent.yaml or with --runtime";

export function resolveRuntime(choice: RuntimeChoice, root: string): ResolvedRuntime {
  if (choice !== "auto") return { runtime: choice, reason: "set in the configuration" };
  const release = readOsRelease(root);
  const known = KNOWN_OSES.find((os) => os.matches(release.fields));
  if (known === undefined) {
    const seen = ["ID", "VARIANT_ID"].flatMap((field) => (release.fields.has(field) ? [`${field}=${release.fields.get(field)}`] : [])).join(" ");
    throw new ConfigError(
      `auto cannot tell the container runtime from ${release.path} (${seen || "it holds no ID"}): it knows Fedora CoreOS, Flatcar and Container Linux`,
      "runtime",
      SET_RUNTIME_HINT,
    );
  }
  return { runtime: known.runtime, reason: `${known.name} (${release.path})` };
}

function readOsRelease(root: string): { path: string; fields: Map<string, string> } {
  for (const hostPath of OS_RELEASE_PATHS) {
    const text = readTextIfExists(new HostRoot(root).readable(hostPath), "read", hostPath);
    if (text === undefined) continue;
    return { path: hostPath, fields: parseOsRelease(text) };
  }
  throw new ConfigError(
    `auto needs ${OS_RELEASE_PATHS.join(" or ")} below ${root} to tell the container runtime, and neither exists`,
    "runtime",
    SET_RUNTIME_HINT,
  );
}

/** KEY=value lines; values may be quoted as in a shell, with backslash escapes in double quotes. */
function parseOsRelease(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match === null) continue;
    const raw = match[2]!;
    let value = raw;
    if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) value = raw.slice(1, -1).replaceAll(/\\(.)/g, "$1");
    else if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) value = raw.slice(1, -1);
    fields.set(match[1]!, value);
  }
  return fields;
}
