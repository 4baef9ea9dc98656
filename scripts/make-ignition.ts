// Renders packaging/agent-files.ts into what Typhoon and Ignition read, for each distro and
// node role (controllers: <distro>.*, workers: <distro>-worker.*):
//   packaging/<name>.yaml  Butane snippet (variant fcos / flatcar) for Typhoon to merge
//   packaging/<name>.ign   the Ignition config (spec 3.3.0) that snippet translates to
// All eight are Terraform templates over TEMPLATE_VARIABLES and are committed; a test fails
// when they no longer match the declaration: `bun scripts/make-ignition.ts` rewrites them.
//
// Ignition 3.3.0 because Ignition 2.14 (Debian's, which the boot test runs) reads 3.3.0 at
// most, and Fedora CoreOS and Flatcar accept it.

import * as fs from "node:fs";
import * as path from "node:path";
import {
  agentFiles,
  DISTROS,
  type Role,
  TEMPLATE_VARIABLES,
  type Distro,
  type NodeFiles,
  type Template,
} from "../packaging/agent-files.ts";

export const PACKAGING = path.resolve(import.meta.dir, "../packaging");
const IGNITION_SPEC_VERSION = "3.3.0";

/** Template text as Terraform reads it: a literal `${` escaped as `$${`, variables as `${name}`. */
function templateText(template: Template): string {
  return template.parts.map((part) => (typeof part === "string" ? escapeLiteral(part) : `\${${part.variable}}`)).join("");
}

function escapeLiteral(text: string): string {
  // Terraform reads %{ as the start of a directive; nothing placed by these snippets needs one
  if (text.includes("%{")) throw new Error(`"%{" in ${JSON.stringify(text.slice(0, 60))}...: Terraform would read a template directive`);
  return text.replaceAll("${", "$${");
}

/**
 * A `data:` URL (RFC 2397) of the template: literal parts percent-encoded, variables left as
 * `${name}` for Terraform to fill in. Every value Typhoon passes (IP, DNS name, image
 * reference) consists of URL characters, so it needs no encoding once rendered.
 */
function dataUrl(template: Template): string {
  const encoded = template.parts.map((part) => (typeof part === "string" ? encodeURIComponent(part) : `\${${part.variable}}`));
  return `data:,${encoded.join("")}`;
}

function ignitionConfig(node: NodeFiles): object {
  return {
    ignition: { version: IGNITION_SPEC_VERSION },
    storage: {
      files: node.files.map((file) => ({
        path: file.path,
        mode: file.mode,
        contents:
          file.contents.kind === "remote"
            ? { source: templateText(file.contents.source), verification: { hash: `sha512-${templateText(file.contents.sha512)}` } }
            : { source: dataUrl(file.contents.text) },
      })),
    },
    systemd: {
      units: node.units.map((unit) => ({
        name: unit.name,
        ...(unit.enabled === undefined ? {} : { enabled: unit.enabled }),
        contents: templateText(unit.contents),
        ...(unit.dropIns === undefined ? {} : { dropins: unit.dropIns.map((dropIn) => ({ name: dropIn.name, contents: templateText(dropIn.contents) })) }),
      })),
    },
  };
}

/** `key: |` followed by the text as a YAML literal block, indented to `indent` spaces. */
function literalBlock(key: string, text: string, indent: number): string[] {
  if (!text.endsWith("\n") || text.endsWith("\n\n") || text.startsWith(" ")) {
    throw new Error(`cannot write ${JSON.stringify(text.slice(0, 40))}... as a plain YAML literal block`);
  }
  const pad = " ".repeat(indent);
  return [`${key}: |`, ...text.slice(0, -1).split("\n").map((line) => (line === "" ? "" : pad + line))];
}

function header(distro: Distro, role: Role): string[] {
  return [
    `# typhoon-agent for ${distro === "flatcar" ? "Flatcar Linux" : "Fedora CoreOS"} ${role}s: Butane snippet for Typhoon's node configs`,
    "# (packaging/README.md). Generated from packaging/agent-files.ts by scripts/make-ignition.ts.",
    "# A Terraform template; its variables:",
    ...Object.entries(TEMPLATE_VARIABLES).map(([name, meaning]) => `#   ${name}: ${meaning}`),
  ];
}

function butaneSnippet(distro: Distro, role: Role, node: NodeFiles): string {
  const { variant, version } = DISTROS[distro].butane;
  const lines = [...header(distro, role), "---", `variant: ${variant}`, `version: ${version}`, "storage:", "  files:"];
  for (const file of node.files) {
    lines.push(`    - path: ${file.path}`, `      mode: 0${file.mode.toString(8)}`, "      contents:");
    if (file.contents.kind === "remote") {
      lines.push(
        `        source: ${templateText(file.contents.source)}`,
        "        verification:",
        `          hash: sha512-${templateText(file.contents.sha512)}`,
      );
    } else {
      lines.push(...literalBlock("        inline", templateText(file.contents.text), 10));
    }
  }
  lines.push("systemd:", "  units:");
  for (const unit of node.units) {
    lines.push(`    - name: ${unit.name}`, ...(unit.enabled === undefined ? [] : [`      enabled: ${unit.enabled}`]), ...literalBlock("      contents", templateText(unit.contents), 8));
    if (unit.dropIns === undefined) continue;
    lines.push("      dropins:");
    for (const dropIn of unit.dropIns) lines.push(`        - name: ${dropIn.name}`, ...literalBlock("          contents", templateText(dropIn.contents), 12));
  }
  return `${lines.join("\n")}\n`;
}

export const ROLES: readonly Role[] = ["controller", "worker"];

/** The base name of a distro's and role's outputs: fedora-coreos, fedora-coreos-worker. */
export function outputName(distro: Distro, role: Role): string {
  return role === "controller" ? distro : `${distro}-${role}`;
}

/** Every generated file, name → content. */
export function packagingOutputs(): Map<string, string> {
  const outputs = new Map<string, string>();
  for (const distro of Object.keys(DISTROS) as Distro[]) {
    for (const role of ROLES) {
      const node = agentFiles(distro, role);
      outputs.set(`${outputName(distro, role)}.yaml`, butaneSnippet(distro, role, node));
      outputs.set(`${outputName(distro, role)}.ign`, `${JSON.stringify(ignitionConfig(node), null, 2)}\n`);
    }
  }
  return outputs;
}

if (import.meta.main) {
  for (const [name, content] of packagingOutputs()) {
    fs.writeFileSync(path.join(PACKAGING, name), content);
    console.log(`wrote packaging/${name}`);
  }
}
