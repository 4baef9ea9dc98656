// Loads the agent configuration: the table's defaults, then /etc/typhoon/agent.yaml (flat
// YAML), then the flags. Every value is checked against the key table; the first problem
// is a ConfigError (exit 78) that names the key, where the value came from and the form
// it must have.

import { isUtf8 } from "node:buffer";
import * as fs from "node:fs";
import { loadAll } from "js-yaml";
import { ConfigError, attempt } from "../errors.ts";
import { yamlProblem } from "../json.ts";
import { HostRoot } from "../hostfs/host-root.ts";
import { CONFIG_KEYS, CONFIG_KEY_LIST, DEFAULT_CONFIG_PATH, RENAMED_KEYS, defaultConfig, flagName, type ConfigKey, type ConfigKeyName } from "./keys.ts";
import { readConfigBytes } from "./read-file.ts";
import { closestName } from "./suggest.ts";
import type { AgentConfig } from "./types.ts";

/** Values from the command line, as typed: validated like the file's. */
export type ConfigFlags = Partial<Record<ConfigKeyName, string | readonly string[]>>;

type ConfigOrigin = "default" | "file" | "flag";

export interface LoadedConfig {
  config: AgentConfig;
  /** The file that was read; undefined when there was none (defaults and flags only). */
  source: string | undefined;
  /** Where each key's value came from. */
  origins: Record<ConfigKeyName, ConfigOrigin>;
}

export interface LoadConfigOptions {
  /** "/" or the --root directory; the default file is looked for below it. */
  root: string;
  /** --config: read as given (not below root), and it must exist. */
  configPath?: string | undefined;
  flags: ConfigFlags;
}

export function loadConfig(options: LoadConfigOptions): LoadedConfig {
  const config = defaultConfig() as unknown as Record<ConfigKeyName, unknown>;
  const origins = Object.fromEntries(CONFIG_KEY_LIST.map((key) => [key.name, "default"])) as Record<ConfigKeyName, ConfigOrigin>;

  const file = readConfigFile(options);
  if (file !== undefined) applyValues(config, origins, file.values, file.path);

  for (const key of CONFIG_KEY_LIST) {
    const flag = options.flags[key.name];
    if (flag === undefined) continue;
    const raw = key.kind === "list" ? splitFlagList(flag) : flag;
    config[key.name] = checkedValue(key, raw, `from --${flagName(key.name)}`);
    origins[key.name] = "flag";
  }
  return { config: checkedLists(config, origins, file?.path), source: file?.path, origins };
}

/**
 * A configuration kept as a mapping (the one an install record holds), checked like a
 * file's: the first problem is a ConfigError naming the key and `where`.
 */
export function checkedConfig(values: Record<string, unknown>, where: string): AgentConfig {
  const config = defaultConfig() as unknown as Record<ConfigKeyName, unknown>;
  const origins = Object.fromEntries(CONFIG_KEY_LIST.map((key) => [key.name, "default"])) as Record<ConfigKeyName, ConfigOrigin>;
  applyValues(config, origins, values, where);
  return checkedLists(config, origins, where);
}

/** A file's (or a record's) keys over `config`, each checked; `where` names it in messages. */
function applyValues(config: Record<ConfigKeyName, unknown>, origins: Record<ConfigKeyName, ConfigOrigin>, values: Record<string, unknown>, where: string): void {
  for (const [name, raw] of Object.entries(values)) {
    const key = knownKey(name, where);
    // `key:` with nothing after it (YAML null) leaves the default, as if the line were absent.
    if (raw === null) continue;
    config[key.name] = checkedValue(key, raw, `in ${where}`);
    origins[key.name] = "file";
  }
}

/** The checks of whole lists, once every key is known (a label the role sets already). */
function checkedLists(config: Record<ConfigKeyName, unknown>, origins: Record<ConfigKeyName, ConfigOrigin>, file: string | undefined): AgentConfig {
  const checked = config as unknown as AgentConfig;
  for (const key of CONFIG_KEY_LIST) {
    const problem = key.checkList?.(checked[key.name] as readonly string[], checked);
    if (problem !== undefined) throw new ConfigError(`${problem} (${describeOrigin(origins[key.name], file, key)})`, key.name);
  }
  return checked;
}

/**
 * No file at agent.yaml's path, but a link there: its target (followed inside the root, like
 * every link the agent meets) does not exist. The operator meant a configuration; running
 * with the defaults instead would install a node nobody configured.
 */
function refuseDanglingLink(host: HostRoot): void {
  const link = host.file(DEFAULT_CONFIG_PATH);
  const target = attempt("read the link", link, () => (fs.lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink() ? fs.readlinkSync(link) : undefined));
  if (target === undefined) return;
  throw new ConfigError(
    `${link} is a symbolic link to ${target}, which does not exist${host.isRealRoot ? "" : ` below ${host.root}`}`,
    undefined,
    `links resolve inside the node's root: point it at a file there, or replace it with the file (or remove it for the defaults)`,
  );
}

function readConfigFile(options: LoadConfigOptions): { path: string; values: Record<string, unknown> } | undefined {
  const explicit = options.configPath !== undefined;
  const host = new HostRoot(options.root);
  const file = options.configPath ?? host.readable(DEFAULT_CONFIG_PATH);
  const bytes = readConfigBytes(file, explicit);
  if (bytes === undefined) {
    refuseDanglingLink(host);
    return undefined;
  }
  if (!isUtf8(bytes)) {
    throw new ConfigError(`${file} is not UTF-8 text`, undefined, "save it as UTF-8 (iconv -t UTF-8), or write the value in ASCII");
  }
  const text = bytes.toString("utf8");
  let documents: unknown[];
  try {
    documents = loadAll(text, { filename: file });
  } catch (error) {
    throw new ConfigError(`cannot parse ${file}: ${yamlProblem(error)}`);
  }
  if (documents.length > 1) throw new ConfigError(`${file} holds ${documents.length} YAML documents; the configuration is one flat mapping`);
  const values = documents[0] ?? {};
  if (values === null || typeof values !== "object" || Array.isArray(values)) {
    throw new ConfigError(`${file} must be a flat mapping of key: value lines, got ${describeDocument(values)}`, undefined, `keys: ${knownKeyNames()}`);
  }
  return { path: file, values: values as Record<string, unknown> };
}

function knownKey(name: string, file: string): ConfigKey {
  if (Object.hasOwn(CONFIG_KEYS, name)) return CONFIG_KEYS[name as ConfigKeyName];
  const renamed = Object.hasOwn(RENAMED_KEYS, name) ? RENAMED_KEYS[name] : undefined;
  if (renamed !== undefined) {
    throw new ConfigError(`was renamed to ${renamed} (in ${file})`, name, `rename the key to ${renamed}; the value means the same`);
  }
  const suggestion = closestKeyName(name);
  const didYouMean = suggestion === undefined ? "" : `; did you mean ${suggestion}?`;
  throw new ConfigError(`unknown key (in ${file})${didYouMean}`, name, `keys: ${knownKeyNames()}`);
}

/** The value checked against the key's form; `where` says where it came from. */
function checkedValue(key: ConfigKey, raw: unknown, where: string): string | string[] {
  if (key.kind === "scalar") {
    if (typeof raw !== "string") throw new ConfigError(`expected ${key.form}, got ${describeRaw(raw)} (${where})`, key.name);
    checkItem(key, raw, where);
    return raw;
  }
  if (!Array.isArray(raw) || !raw.every((item) => typeof item === "string")) {
    throw new ConfigError(`expected ${key.form}, got ${describeRaw(raw)} (${where})`, key.name, `a YAML list: ${key.name}: [a, b], or one flag per item`);
  }
  for (const item of raw) checkItem(key, item, where);
  return [...raw];
}

function checkItem(key: ConfigKey, value: string, where: string): void {
  const problem = key.check(value);
  if (problem !== undefined) throw new ConfigError(`${JSON.stringify(value)} ${problem}; expected ${key.form} (${where})`, key.name, key.hint);
}

/** Like the kubelet's own list flags, one flag may carry several comma-separated items. */
function splitFlagList(flag: string | readonly string[]): string[] {
  const occurrences = typeof flag === "string" ? [flag] : flag;
  return occurrences.flatMap((occurrence) => occurrence.split(",")).filter((item) => item !== "");
}

function describeOrigin(origin: ConfigOrigin, file: string | undefined, key: ConfigKey): string {
  if (origin === "flag") return `from --${flagName(key.name)}`;
  return origin === "file" ? `in ${file}` : "default";
}

function describeRaw(raw: unknown): string {
  if (Array.isArray(raw)) return "a list";
  if (raw === null || raw === undefined) return "nothing";
  if (typeof raw === "object") return "a mapping";
  if (typeof raw === "string") return JSON.stringify(raw);
  return `${String(raw)} (a ${typeof raw}; quote it to make it a string)`;
}

/**
 * What a whole file turned out to be, by its kind only: --config pointed at the wrong file
 * (a key, a token) must not print it, so a document that is one value is never quoted.
 */
function describeDocument(raw: unknown): string {
  if (typeof raw === "string") return `one string of ${raw.length} characters (not shown: the wrong file may hold a secret)`;
  if (typeof raw === "number" || typeof raw === "boolean") return `one ${typeof raw}`;
  return describeRaw(raw);
}

function knownKeyNames(): string {
  return CONFIG_KEY_LIST.map((key) => key.name).join(", ");
}

/** The key an operator most likely meant: case and - vs _ ignored, then edit distance. */
function closestKeyName(name: string): string | undefined {
  return closestName(name.toLowerCase().replaceAll("-", "_"), CONFIG_KEY_LIST.map((key) => key.name));
}
