// Secret canaries: fragments of every private key and kubeconfig credential in a bundle,
// to search any output for. A fragment is 24 characters of a key's base64 body taken every
// 8 characters, so any quoted excerpt of 31 characters or more is found, while no fragment
// is short enough to occur by chance in a message.

const WINDOW = 24;
const STEP = 8;

/** Assets that hold a secret: private keys and the kubeconfigs that embed one. */
const isSecretAsset = (name: string): boolean => name.endsWith(".key") || name.endsWith(".conf") || name.endsWith("/kubeconfig");

/**
 * The windows of `text`, leaving out `skipStart` characters at the front and `skipEnd` at
 * the back: in a base64-encoded PEM those encode the BEGIN and END lines, which are no secret.
 */
function windows(text: string, skipStart = 0, skipEnd = 0): string[] {
  const found: string[] = [];
  for (let at = skipStart; at + WINDOW <= text.length - skipEnd; at += STEP) found.push(text.slice(at, at + WINDOW));
  return found;
}

/** base64 characters that encode "-----BEGIN RSA PRIVATE KEY-----\n" and its END line, with slack. */
const ENCODED_PEM_HEADER = 48;
const ENCODED_PEM_FOOTER = 44;

/** PEM body lines (not the BEGIN/END lines, which name the kind of key and are no secret). */
function pemBodies(text: string): string[] {
  return text.split("\n").filter((line) => /^[A-Za-z0-9+/=]{24,}$/.test(line));
}

export function secretFragments(assets: ReadonlyMap<string, string>): string[] {
  const fragments = new Set<string>();
  for (const [name, content] of assets) {
    if (!isSecretAsset(name)) continue;
    for (const line of pemBodies(content)) for (const fragment of windows(line)) fragments.add(fragment);
    for (const match of content.matchAll(/(?:client-key-data|token):\s*(\S+)/g)) {
      const value = match[1]!;
      for (const fragment of windows(value, ENCODED_PEM_HEADER, ENCODED_PEM_FOOTER)) fragments.add(fragment);
      for (const line of pemBodies(Buffer.from(value, "base64").toString("utf8"))) for (const fragment of windows(line)) fragments.add(fragment);
    }
  }
  return [...fragments];
}

/** The first fragment `text` contains, or undefined. */
export function findLeak(text: string, fragments: readonly string[]): string | undefined {
  return fragments.find((fragment) => text.includes(fragment));
}
