// The secret canary over the whole test run. Every private key the run generates is known
// (scripts/pki.ts keeps them); every output of the agent the helpers see is recorded here
// (runAgent, the overlay and strace runs, the journald and in-process event recorders), and
// the files left in the test trees are scanned before they are removed. test/setup.ts checks
// all of it once, after the last test file: no fragment of a key may appear anywhere but in a
// file that is the secret itself (installed, unpacked, backed up, or a bundle holding it).

import * as fs from "node:fs";
import * as path from "node:path";

/** One fragment is 24 base64 characters, taken every 8: any excerpt of 31 or more holds one whole. */
const WINDOW = 24;
const STEP = 8;
/** Files larger than this are not scanned (bundles of random assets in the codec tests). */
const LARGEST_SCANNED = 16 << 20;

interface Recorded {
  label: string;
  text: string;
}

const outputs: Recorded[] = [];

/** Keeps `text`, something the agent printed or logged during `label`, for the check at the end of the run. */
export function recordOutput(label: string, ...texts: Array<string | Uint8Array | undefined | null>): void {
  for (const text of texts) if (text !== undefined && text !== null && text.length > 0) outputs.push({ label, text: typeof text === "string" ? text : Buffer.from(text).toString("latin1") });
}

/** The output of an execa run of the agent, recorded; returned unchanged. */
export function recorded<T extends { stdout?: unknown; stderr?: unknown }>(label: string, run: T): T {
  recordOutput(label, asText(run.stdout), asText(run.stderr));
  return run;
}

function asText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return Buffer.from(value).toString("latin1");
  return undefined;
}

/**
 * The fragments of `keys` (PKCS#1 RSA private keys in PEM, as scripts/pki.ts makes them) as
 * they can appear: in PEM lines, and base64-encoded whole (a kubeconfig's client-key-data).
 * Only the private part counts: a key's modulus and public exponent are also in its
 * certificate and public key, which are no secret.
 */
export function fragmentsOf(keys: Iterable<string>): Set<string> {
  const fragments = new Set<string>();
  const windows = (text: string, from: number, to: number): void => {
    for (let at = from; at + WINDOW <= to; at += STEP) fragments.add(text.slice(at, at + WINDOW));
  };
  for (const key of keys) {
    const lines = key.split("\n");
    const header = `${lines[0]}\n`;
    const body = lines.filter((line) => /^[A-Za-z0-9+/=]+$/.test(line)).join("");
    // The first whole base64 group past the public part.
    const privateFrom = Math.ceil(privatePartOffset(Buffer.from(body, "base64")) / 3) * 4;
    windows(body, privateFrom, body.length);
    // Base64 of the whole PEM, from the private part's place in the PEM text (64 characters a line) to before the END line.
    const pemOffset = header.length + privateFrom + Math.floor(privateFrom / 64);
    const whole = Buffer.from(key).toString("base64");
    windows(whole, Math.ceil(pemOffset / 3) * 4, whole.length - 44);
  }
  return fragments;
}

/** Where the private exponent starts in a PKCS#1 RSAPrivateKey: after the sequence's header and version, modulus, public exponent. */
function privatePartOffset(der: Buffer): number {
  let at = headerLength(der, 0);
  for (let integer = 0; integer < 3; integer++) at += headerLength(der, at) + contentLength(der, at);
  return at;
}

function headerLength(der: Buffer, at: number): number {
  const first = der[at + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(der: Buffer, at: number): number {
  const first = der[at + 1]!;
  if (first < 0x80) return first;
  let length = 0;
  for (let index = 0; index < (first & 0x7f); index++) length = length * 256 + der[at + 2 + index]!;
  return length;
}

/** Runs of base64 characters long enough to hold a fragment: only those are looked up. */
const CANDIDATE = /[A-Za-z0-9+/=]{24,}/g;

/** The first fragment in `text`, if any. */
export function leakIn(text: string, fragments: ReadonlySet<string>): string | undefined {
  for (const match of text.matchAll(CANDIDATE)) {
    const run = match[0];
    for (let at = 0; at + WINDOW <= run.length; at++) {
      const window = run.slice(at, at + WINDOW);
      if (fragments.has(window)) return window;
    }
  }
  return undefined;
}

/**
 * A file that may hold a whole secret: the secret itself (a key, a kubeconfig, installed or
 * unpacked, by the name the bundle gives it), a bundle (one with a header line, damaged ones
 * too: cut short, or with a mark or junk before its first header), or a backup.
 */
function holdsSecretsByDesign(file: string, content: Buffer, isSecretName: (name: string) => boolean): boolean {
  return isSecretName(path.basename(file)) || /(^|\n)##### /.test(content.toString("latin1")) || /\/backups\/\d{8}T\d{9}Z\.tar(\.damaged)?$/.test(file);
}

/** Files below `roots` that hold a fragment without being one of the secret's own places. */
export function leaksInTrees(roots: readonly string[], fragments: ReadonlySet<string>, isSecretName: (name: string) => boolean): string[] {
  const leaks: string[] = [];
  const walk = (directory: string): void => {
    let names: string[];
    try {
      names = fs.readdirSync(directory);
    } catch {
      return;
    }
    for (const name of names) {
      const file = path.join(directory, name);
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(file);
      } catch {
        continue;
      }
      if (stat.isDirectory()) walk(file);
      if (!stat.isFile() || stat.size > LARGEST_SCANNED || stat.size < WINDOW) continue;
      const content = fs.readFileSync(file);
      if (holdsSecretsByDesign(file, content, isSecretName)) continue;
      const leak = leakIn(content.toString("latin1"), fragments);
      if (leak !== undefined) leaks.push(`${file} holds a fragment of a private key`);
    }
  };
  for (const root of roots) walk(root);
  return leaks;
}

/** Recorded outputs that hold a fragment: each as its label. */
export function leaksInOutputs(fragments: ReadonlySet<string>): string[] {
  // A bundle on standard output (pack without -o) holds its secrets by design.
  return outputs.filter(({ text }) => !text.startsWith("##### ") && leakIn(text, fragments) !== undefined).map(({ label }) => `${label}: its output holds a fragment of a private key`);
}
