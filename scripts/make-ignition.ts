// Renders packaging/agent-files.ts into what Typhoon and Ignition read, for each distro and
// node role (controllers: <distro>.*, workers: <distro>-worker.*):
//   packaging/<name>.yaml  the snippet for Typhoon to merge: Butane (variant fcos / flatcar),
//                          or a Container Linux Config (container-linux*.yaml)
//   packaging/<name>.ign   the Ignition config (spec 3.3.0) a Butane snippet translates to
// All ten are Terraform templates over the variables agent-files.ts declares and are
// committed; a test fails when they no longer match the declaration: `bun scripts/make-ignition.ts`
// rewrites them. A Container Linux Config gets no .ign: ct translates it to Ignition 2.x,
// which no Ignition here reads (packaging/README.md).
//
// Ignition 3.3.0 because Ignition 2.14 (Debian's, which the boot test runs) reads 3.3.0 at
// most, and Fedora CoreOS and Flatcar accept it.

import * as fs from "node:fs";
import * as path from "node:path";
import {
  agentFiles,
  DISTROS,
  NODE_VARIABLES,
  type NodeVariable,
  type Role,
  TEMPLATE_VARIABLES,
  templateVariables,
  type TemplateVariable,
  type Distro,
  type NodeFiles,
  type Template,
} from "../packaging/agent-files.ts";

export const PACKAGING = path.resolve(import.meta.dir, "../packaging");
const IGNITION_CONFIG_VERSION = "3.3.0";
const NODE_VARIABLE_NAMES = Object.keys(NODE_VARIABLES) as NodeVariable[];

/**
 * The Terraform expression for a node variable's JSON value. Lists arrive comma-joined, and
 * compact() makes "" (a pool without labels) the empty list, where split() alone gives [""].
 */
function nodeExpression(name: NodeVariable): string {
  return NODE_VARIABLES[name].kind === "list" ? `jsonencode(compact(split(",", ${name})))` : `jsonencode(${name})`;
}

/** In a data URL the JSON's quotes and brackets are percent-encoded (a label holds no space, which urlencode would make "+"). */
function dataUrlExpression(name: NodeVariable): string {
  return `urlencode(${nodeExpression(name)})`;
}

/** Template text as Terraform reads it: a literal `${` escaped as `$${`, variables as `${name}`. */
function templateText(template: Template): string {
  return template.parts
    .map((part) => (typeof part === "string" ? escapeLiteral(part) : "variable" in part ? `\${${part.variable}}` : `\${${nodeExpression(part.json)}}`))
    .join("");
}

function escapeLiteral(text: string): string {
  // Terraform reads %{ as the start of a directive; nothing placed by these snippets needs one
  if (text.includes("%{")) throw new Error(`"%{" in ${JSON.stringify(text.slice(0, 60))}...: Terraform would read a template directive`);
  return text.replaceAll("${", "$${");
}

/**
 * A `data:` URL (RFC 2397) of the template: literal parts percent-encoded, variables left as
 * `${name}` for Terraform to fill in. Every string value Typhoon passes (IP, DNS name, image
 * reference) consists of URL characters, so it needs no encoding once rendered.
 */
function dataUrl(template: Template): string {
  const encoded = template.parts.map((part) =>
    typeof part === "string" ? encodeURIComponent(part) : "variable" in part ? `\${${part.variable}}` : `\${${dataUrlExpression(part.json)}}`,
  );
  return `data:,${encoded.join("")}`;
}

/** Text placed verbatim in JSON, where a node variable's rendered quotes would end the string. */
function jsonTemplateText(template: Template): string {
  if (template.parts.some((part) => typeof part !== "string" && "json" in part)) throw new Error("a node variable outside a data URL would break the JSON");
  return templateText(template);
}

function ignitionConfig(node: NodeFiles): object {
  return {
    ignition: { version: IGNITION_CONFIG_VERSION },
    storage: {
      files: node.files.map((file) => ({
        path: file.path,
        mode: file.mode,
        contents:
          file.contents.kind === "remote"
            ? { source: jsonTemplateText(file.contents.source), verification: { hash: `sha512-${jsonTemplateText(file.contents.sha512)}` } }
            : { source: dataUrl(file.contents.text) },
      })),
      ...(node.links.length === 0 ? {} : { links: node.links.map((link) => ({ path: link.path, target: link.target })) }),
    },
    systemd: {
      units: node.units.map((unit) => ({
        name: unit.name,
        ...(unit.enabled === undefined ? {} : { enabled: unit.enabled }),
        ...(unit.contents === undefined ? {} : { contents: jsonTemplateText(unit.contents) }),
        ...(unit.dropIns === undefined ? {} : { dropins: unit.dropIns.map((dropIn) => ({ name: dropIn.name, contents: jsonTemplateText(dropIn.contents) })) }),
      })),
    },
  };
}

/**
 * The Ignition config of a node as a Terraform template. Terraform reads the template before
 * anything reads JSON, so the quotes in the node variables' expressions stay unescaped: the
 * file is JSON once rendered, not before.
 */
export function ignitionTemplate(node: NodeFiles): string {
  let text = `${JSON.stringify(ignitionConfig(node), null, 2)}\n`;
  for (const name of NODE_VARIABLE_NAMES) {
    const expression = dataUrlExpression(name);
    text = text.replaceAll(JSON.stringify(expression).slice(1, -1), expression);
  }
  return text;
}

/** `key: |` followed by the text as a YAML literal block, indented to `indent` spaces. */
function literalBlock(key: string, text: string, indent: number): string[] {
  if (!text.endsWith("\n") || text.endsWith("\n\n") || text.startsWith(" ")) {
    throw new Error(`cannot write ${JSON.stringify(text.slice(0, 40))}... as a plain YAML literal block`);
  }
  const pad = " ".repeat(indent);
  return [`${key}: |`, ...text.slice(0, -1).split("\n").map((line) => (line === "" ? "" : pad + line))];
}

const DISTRO_NAMES: Record<Distro, string> = { "fedora-coreos": "Fedora CoreOS", flatcar: "Flatcar Linux", "container-linux": "Container Linux" };

function header(distro: Distro, role: Role): string[] {
  const meanings: Record<TemplateVariable | NodeVariable, string> = {
    ...TEMPLATE_VARIABLES,
    ...(Object.fromEntries(NODE_VARIABLE_NAMES.map((name) => [name, NODE_VARIABLES[name].meaning])) as Record<NodeVariable, string>),
  };
  const format = DISTROS[distro].snippet.format === "butane" ? "Butane snippet" : "Container Linux Config (ct) snippet";
  return [
    `# typhoon-agent for ${DISTRO_NAMES[distro]} ${role}s: ${format} for Typhoon's node configs`,
    "# (packaging/README.md). Generated from packaging/agent-files.ts by scripts/make-ignition.ts.",
    "# A Terraform template; its variables:",
    ...templateVariables(role).map((name) => `#   ${name}: ${meanings[name]}`),
  ];
}

function butaneSnippet(distro: Distro, role: Role, node: NodeFiles): string {
  const snippet = DISTROS[distro].snippet;
  if (snippet.format !== "butane") throw new Error(`${distro} takes a Container Linux Config`);
  const lines = [...header(distro, role), "---", `variant: ${snippet.variant}`, `version: ${snippet.version}`, "storage:", "  files:"];
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
  if (node.links.length > 0) lines.push("  links:", ...node.links.flatMap((link) => [`    - path: ${link.path}`, `      target: ${link.target}`]));
  if (node.units.length > 0) lines.push("systemd:", "  units:");
  for (const unit of node.units) {
    lines.push(`    - name: ${unit.name}`, ...(unit.enabled === undefined ? [] : [`      enabled: ${unit.enabled}`]), ...contentsLines(unit.contents, 8));
    lines.push(...dropInLines(unit.dropIns));
  }
  return `${lines.join("\n")}\n`;
}

function contentsLines(contents: Template | undefined, indent: number): string[] {
  return contents === undefined ? [] : literalBlock(`${" ".repeat(indent - 2)}contents`, templateText(contents), indent);
}

function dropInLines(dropIns: NodeFiles["units"][number]["dropIns"]): string[] {
  if (dropIns === undefined) return [];
  return ["      dropins:", ...dropIns.flatMap((dropIn) => [`        - name: ${dropIn.name}`, ...literalBlock("          contents", templateText(dropIn.contents), 12)])];
}

/**
 * The Container Linux Config (ct) spelling of the same node: every file on the root
 * filesystem, the remote binary as url plus a sha512 hash, `enable` for an enabled unit, modes
 * in octal as YAML 1.1 (ct's parser) reads 0755.
 */
function containerLinuxConfig(distro: Distro, role: Role, node: NodeFiles): string {
  const lines = [...header(distro, role), "---", "storage:", "  files:"];
  for (const file of node.files) {
    lines.push(`    - path: ${file.path}`, "      filesystem: root", `      mode: 0${file.mode.toString(8)}`, "      contents:");
    if (file.contents.kind === "remote") {
      lines.push(
        "        remote:",
        `          url: ${templateText(file.contents.source)}`,
        "          verification:",
        "            hash:",
        "              function: sha512",
        `              sum: ${templateText(file.contents.sha512)}`,
      );
    } else {
      lines.push(...literalBlock("        inline", templateText(file.contents.text), 10));
    }
  }
  lines.push("systemd:", "  units:");
  for (const unit of node.units) {
    lines.push(`    - name: ${unit.name}`, ...(unit.enabled === undefined ? [] : [`      enable: ${unit.enabled}`]), ...contentsLines(unit.contents, 8));
    lines.push(...dropInLines(unit.dropIns));
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
      if (DISTROS[distro].snippet.format === "butane") {
        outputs.set(`${outputName(distro, role)}.yaml`, butaneSnippet(distro, role, node));
        outputs.set(`${outputName(distro, role)}.ign`, ignitionTemplate(node));
      } else {
        outputs.set(`${outputName(distro, role)}.yaml`, containerLinuxConfig(distro, role, node));
      }
    }
  }
  return outputs;
}

/** What Typhoon passes to templatefile(): the strings, and the node variables a snippet takes. */
export type TemplateValues = Record<TemplateVariable, string> & { [name in NodeVariable]?: string | null };

/**
 * A template from packaging/ as Terraform's templatefile() renders it, for the forms these
 * templates hold: `${name}`, `$${` and the node variables' expressions. Anything else (a
 * directive, another expression, a variable without a value) is an error, as it is for
 * Terraform. test/boot-packaging.test.ts checks it against Terraform where it is installed.
 */
export function renderTemplate(text: string, values: TemplateValues): string {
  if (text.includes("%{")) throw new Error("template: a directive (%{): these templates hold none");
  return text.replace(INTERPOLATION, (match, inner: string) => {
    if (match === "$${") return "${";
    const { name, urlencoded } = parseInterpolation(inner);
    const value = (values as Record<string, string | null | undefined>)[name];
    if (value === undefined) throw new Error(`template: no value for ${name}`);
    if (!Object.hasOwn(NODE_VARIABLES, name)) {
      if (value === null) throw new Error(`template: ${name} is null`);
      return value;
    }
    const json = nodeJson(name as NodeVariable, value);
    return urlencoded ? queryEscape(json) : json;
  });
}

/** The variables a template uses, each once, in order of first use. */
export function usedVariables(text: string): string[] {
  const names = [...text.matchAll(INTERPOLATION)].flatMap((match) => (match[0] === "$${" ? [] : [parseInterpolation(match[1]!).name]));
  return [...new Set(names)];
}

const INTERPOLATION = /\$\$\{|\$\{([^}]*)\}/g;

function parseInterpolation(inner: string): { name: string; urlencoded: boolean } {
  if (/^\w+$/.test(inner)) return { name: inner, urlencoded: false };
  for (const name of NODE_VARIABLE_NAMES) {
    if (inner === nodeExpression(name)) return { name, urlencoded: false };
    if (inner === dataUrlExpression(name)) return { name, urlencoded: true };
  }
  throw new Error(`template: an expression these templates do not make: \${${inner}}`);
}

/** Terraform's jsonencode() of the node variable (Go's encoder: <, >, & and U+2028/9 escaped). */
function nodeJson(name: NodeVariable, value: string | null): string {
  let json: string;
  if (NODE_VARIABLES[name].kind === "list") {
    if (value === null) throw new Error(`template: split() of a null ${name}`);
    json = JSON.stringify(value.split(",").filter((item) => item !== ""));
  } else {
    json = JSON.stringify(value);
  }
  return json.replace(/[<>&\u2028\u2029]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Terraform's urlencode() (Go's url.QueryEscape): only A-Z a-z 0-9 - _ . ~ stay, a space becomes +. */
function queryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%20", "+");
}

if (import.meta.main) {
  for (const [name, content] of packagingOutputs()) {
    fs.writeFileSync(path.join(PACKAGING, name), content);
    console.log(`wrote packaging/${name}`);
  }
}
