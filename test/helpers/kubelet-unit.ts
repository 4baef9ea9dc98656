// kubelet.service parsed back the way systemd reads it, its ExecStart taken apart the way
// podman, docker or rkt reads it: what the unit tests of the rendered units check.

import { load } from "js-yaml";
import { expect } from "vitest";
import { defaultConfig } from "../../agent/config/keys.ts";
import type { AgentConfig, Runtime } from "../../agent/config/types.ts";
import { renderNodeFiles } from "../../agent/units/node-files.ts";

/** rkt cannot run a kubelet of 1.35 or newer (cgroup v1): its units are rendered for 1.34. */
export const RKT_KUBELET_IMAGE = "quay.io/poseidon/kubelet:v1.34.2";

// ---- reading a unit file as systemd does ----------------------------------------------

export interface Unit {
  /** section → [key, value] in file order (keys repeat: ExecStartPre). */
  sections: Map<string, Array<[string, string]>>;
}

export function parseUnit(text: string): Unit {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> | undefined;
  const logical = text.replaceAll("\\\n", " ").split("\n");
  for (const line of logical) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header !== null) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    const equals = line.indexOf("=");
    if (current === undefined || equals < 0) throw new Error(`not a unit line: ${line}`);
    current.push([line.slice(0, equals), line.slice(equals + 1)]);
  }
  return { sections };
}

export function values(unit: Unit, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([name]) => name === key).map(([, value]) => value);
}

/**
 * systemd.service(5) "Command lines": words, quotes, backslash escapes, $$ and %%. The only
 * expansions allowed are ${NAME} and %H (platforms.ts), returned in `expanded`; any other
 * unescaped $ or % would be a value systemd rewrites.
 */
export function splitCommand(value: string): { ignoreFailure: boolean; words: string[]; expanded?: string[] } {
  const ignoreFailure = value.startsWith("-");
  const text = ignoreFailure ? value.slice(1) : value;
  const words: string[] = [];
  const expanded: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (text[index] === " ") index++;
    if (index >= text.length) break;
    let word = "";
    const quote = text[index] === '"' || text[index] === "'" ? text[index++] : undefined;
    while (index < text.length && (quote === undefined ? text[index] !== " " : text[index] !== quote)) {
      const character = text[index++]!;
      const expansion = /^(?:\$\{[A-Z0-9_]+\}|%H)/.exec(text.slice(index - 1))?.[0];
      if (character === "\\") word += text[index++];
      else if ((character === "$" || character === "%") && text[index] === character) word += text[index++];
      else if (expansion !== undefined && quote === undefined) {
        expanded.push(expansion);
        word += expansion;
        index += expansion.length - 1;
      } else if (character === "$" || character === "%") throw new Error(`unescaped ${character} would be expanded by systemd: ${value}`);
      else word += character;
    }
    if (quote !== undefined) index++;
    words.push(word);
  }
  return expanded.length === 0 ? { ignoreFailure, words } : { ignoreFailure, words, expanded };
}

// ---- reading the runtime's command line ----------------------------------------------

export interface ParsedMount {
  host: string;
  container: string;
  readOnly: boolean;
  propagation: "rprivate" | "rshared";
  selinuxRelabel: boolean;
}

export interface ParsedExecStart {
  executable: string;
  mounts: ParsedMount[];
  image: string;
  kubeletFlags: string[];
}

/** Options of `podman run` / `docker run` that take a separate value. */
const VALUED_OPTIONS = new Set(["--name", "--log-driver", "--pid", "--network", "--volume"]);

function parseBindRun(words: readonly string[]): ParsedExecStart {
  const mounts: ParsedMount[] = [];
  let index = 2; // "/usr/bin/podman run"
  while (words[index]!.startsWith("-")) {
    const option = words[index]!;
    const value = VALUED_OPTIONS.has(option) ? words[++index]! : undefined;
    if (option === "--volume") {
      const [host, container, options = ""] = value!.split(":") as [string, string, string?];
      const flags = options.split(",");
      mounts.push({
        host,
        container,
        readOnly: flags.includes("ro"),
        propagation: flags.includes("rshared") ? "rshared" : "rprivate",
        selinuxRelabel: flags.includes("z"),
      });
    }
    index++;
  }
  return { executable: words[0]!, mounts, image: words[index]!, kubeletFlags: words.slice(index + 1) };
}

function parseRktRun(words: readonly string[]): ParsedExecStart {
  const volumes = new Map<string, Map<string, string>>();
  const mounts: ParsedMount[] = [];
  let index = 2; // "/usr/bin/rkt run"
  while (!words[index]!.startsWith("docker://")) {
    const option = words[index]!;
    if (option === "--volume" || option === "--mount") {
      const fields = new Map(words[++index]!.split(",").map((pair) => pair.split("=") as [string, string]));
      if (option === "--volume") {
        const name = [...fields.keys()][0]!;
        expect(volumes.has(name), `volume ${name} declared twice`).toBe(false);
        volumes.set(name, fields);
      } else {
        const volume = volumes.get(fields.get("volume")!);
        expect(volume, `--mount of undeclared volume ${fields.get("volume")}`).toBeDefined();
        expect(volume!.get("kind")).toBe("host");
        // Like docker's and podman's rbind: without it, submounts (cgroup v1 controllers) vanish.
        expect(volume!.get("recursive")).toBe("true");
        mounts.push({
          host: volume!.get("source")!,
          container: fields.get("target")!,
          readOnly: volume!.get("readOnly") === "true",
          // stage1-fly makes every volume source rshared; it has no per-volume setting.
          propagation: "rshared",
          // rkt has no per-volume SELinux relabel.
          selinuxRelabel: false,
        });
      }
    }
    index++;
  }
  const image = words[index]!.slice("docker://".length);
  const separator = words.indexOf("--", index);
  expect(words.slice(index + 1, separator)).toEqual(["--exec=/usr/local/bin/kubelet"]);
  return { executable: words[0]!, mounts, image, kubeletFlags: words.slice(separator + 1) };
}

export interface Rendered {
  unit: Unit;
  text: string;
  execStart: ParsedExecStart;
  kubeletYaml: Record<string, unknown>;
}

export function render(runtime: Runtime, overrides: Partial<AgentConfig> = {}): Rendered {
  const config = { ...defaultConfig(), ...(runtime === "rkt" ? { kubelet_image: RKT_KUBELET_IMAGE } : {}), ...overrides };
  const files = renderNodeFiles(config, runtime);
  expect(files.map((file) => [file.path, file.mode])).toEqual([
    ["/etc/systemd/system/kubelet.service", 0o644],
    ["/etc/kubernetes/kubelet.yaml", 0o644],
  ]);
  const text = files[0]!.content;
  const unit = parseUnit(text);
  const execStarts = values(unit, "Service", "ExecStart");
  expect(execStarts).toHaveLength(1);
  const { words } = splitCommand(execStarts[0]!);
  const execStart = runtime === "rkt" ? parseRktRun(words) : parseBindRun(words);
  return { unit, text, execStart, kubeletYaml: load(files[1]!.content) as Record<string, unknown> };
}

export function flagValues(flags: readonly string[], name: string): string[] {
  return flags.filter((flag) => flag.startsWith(`--${name}=`)).map((flag) => flag.slice(name.length + 3));
}

export function isWithin(child: string, parent: string): boolean {
  return parent === "/" || child === parent || child.startsWith(`${parent}/`);
}
