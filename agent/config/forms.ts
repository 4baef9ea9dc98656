// The value forms the agent configuration accepts. Each check returns what is wrong with a
// value (a phrase such as `is not an IP address`) or undefined; the key table pairs it with
// the expected form, and the loader builds the message naming the key.
// Accepted values end up inside kubelet.service and kubelet.yaml, so the forms are strict
// enough that no accepted value can carry a space, a quote, `%` or `$` into a unit file.

export type Problem = string | undefined;

const DNS_LABEL = "[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?";
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);

/** An RFC 1123 subdomain, lower case, as Kubernetes validates clusterDomain and label prefixes. */
export function dnsSubdomainProblem(value: string): Problem {
  if (value.length > 253) return "is longer than 253 characters";
  return DNS_SUBDOMAIN.test(value) ? undefined : "is not a lower-case DNS name";
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * IPv4 (dotted quad, no leading zeros) or IPv6 (RFC 4291 text form, embedded IPv4 allowed,
 * no zone). Written out because node:net costs a boot-time tool ~7 ms of start-up.
 */
export function ipAddressProblem(value: string): Problem {
  if (IPV4.test(value)) return undefined;
  return isIPv6(value) ? undefined : "is not an IP address";
}

function isIPv6(value: string): boolean {
  const halves = value.split("::");
  if (halves.length > 2) return false;
  const groups = halves.map((half) => (half === "" ? [] : half.split(":")));
  const all = groups.flat();
  // An embedded IPv4 address stands for the last two groups.
  const last = all.at(-1);
  const embeddedIPv4 = last !== undefined && last.includes(".");
  if (embeddedIPv4 && !IPV4.test(last)) return false;
  const hexGroups = embeddedIPv4 ? all.slice(0, -1) : all;
  if (!hexGroups.every((group) => HEX_GROUP.test(group))) return false;
  const width = hexGroups.length + (embeddedIPv4 ? 2 : 0);
  return halves.length === 2 ? width <= 7 : width === 8;
}

/**
 * What no cluster DNS Service can be, by address class; the first that matches names it.
 * IPv4 link-local stays allowed: NodeLocal DNSCache listens on 169.254.20.10. IPv6
 * link-local does not, since it needs a zone (an interface) a pod's resolv.conf cannot name.
 */
const UNUSABLE_IPV4: ReadonlyArray<[(octets: number[]) => boolean, string]> = [
  [(octets) => octets.every((octet) => octet === 255), "is a broadcast address (255.255.255.255)"],
  [([first]) => first === 0, "is unspecified (0.0.0.0/8): no server answers there"],
  [([first]) => first === 127, "is a loopback address (127.0.0.0/8): each pod would ask itself"],
  [([first]) => (first! & 0xf0) === 0xe0, "is a multicast address (224.0.0.0/4)"],
  [([first]) => (first! & 0xf0) === 0xf0, "is reserved (240.0.0.0/4): Linux routes no packet to it"],
];
const UNUSABLE_IPV6: ReadonlyArray<[(groups: number[]) => boolean, string]> = [
  [(groups) => groups.every((group) => group === 0), "is unspecified (::): no server answers there"],
  [(groups) => groups.slice(0, 7).every((group) => group === 0) && groups[7] === 1, "is a loopback address (::1): each pod would ask itself"],
  [([first]) => (first! & 0xff00) === 0xff00, "is a multicast address (ff00::/8)"],
  [([first]) => (first! & 0xffc0) === 0xfe80, "is a link-local IPv6 address (fe80::/10), which needs an interface a pod cannot name"],
];

/** An address a cluster DNS Service can have: well-formed, and of no class above. */
export function clusterDnsAddressProblem(value: string): Problem {
  const syntax = ipAddressProblem(value);
  if (syntax !== undefined) return syntax;
  if (IPV4.test(value)) return ipv4Problem(value.split(".").map(Number));
  const groups = ipv6Groups(value);
  const mapped = mappedIPv4(groups);
  if (mapped !== undefined) return ipv4Problem(mapped);
  return UNUSABLE_IPV6.find(([matches]) => matches(groups))?.[1];
}

function ipv4Problem(octets: number[]): Problem {
  return UNUSABLE_IPV4.find(([matches]) => matches(octets))?.[1];
}

/**
 * The octets of the IPv4 address an IPv4-mapped IPv6 address (::ffff:0:0/96) stands for,
 * however it is written: `::ffff:127.0.0.1` and `::ffff:7f00:1` are the same address.
 */
function mappedIPv4(groups: readonly number[]): number[] | undefined {
  const [high = 0, low = 0] = groups.slice(6);
  if (!groups.slice(0, 5).every((group) => group === 0) || groups[5] !== 0xffff) return undefined;
  return [high >> 8, high & 0xff, low >> 8, low & 0xff];
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded IPv4 address as two). */
function ipv6Groups(value: string): number[] {
  const parse = (half: string): number[] => (half === "" ? [] : half.split(":").flatMap(groupValues));
  const [head = "", tail] = value.split("::");
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function groupValues(group: string): number[] {
  if (!group.includes(".")) return [parseInt(group, 16)];
  const [a = 0, b = 0, c = 0, d = 0] = group.split(".").map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

// The grammar of github.com/distribution/reference: [domain[:port]/]path[:tag][@digest].
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const IMAGE_NAME = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const IMAGE_REFERENCE = new RegExp(`^(${IMAGE_NAME})(?::${TAG})?(?:@${DIGEST})?$`);
const PINNED = new RegExp(`(?::${TAG}|@${DIGEST})$`);

/** A pinned OCI image reference: the kubelet must not float with `:latest`. */
export function imageReferenceProblem(value: string): Problem {
  if (value.includes("://")) return "has a transport prefix (the rkt unit adds docker:// itself)";
  const match = IMAGE_REFERENCE.exec(value);
  if (match === null) return "is not an image reference";
  const name = match[1]!;
  if (name.length > 255) return "has a repository name longer than 255 characters";
  const rest = value.slice(name.length);
  if (!PINNED.test(rest)) return "has no tag or digest (it would float with :latest)";
  const tag = /^:([^@]+)$/.exec(rest)?.[1];
  if (tag !== undefined && FLOATING_TAGS.includes(tag.toLowerCase())) return `has the floating tag ${JSON.stringify(tag)}, which moves to another kubelet with no apply`;
  return undefined;
}

/** Tags registries move to each new build; with a digest beside them they pin nothing and harm nothing. */
export const FLOATING_TAGS: readonly string[] = ["latest", "stable", "edge", "nightly", "main", "master"];

/** 1.36, 1.36.1, v1.36.1: a Kubernetes release, of which the agent needs the minor. */
const KUBERNETES_VERSION = /^v?1\.(0|[1-9]\d{0,2})(?:\.(?:0|[1-9]\d{0,3}))?$/;

export function kubeletVersionProblem(value: string): Problem {
  return KUBERNETES_VERSION.test(value) ? undefined : "is not a Kubernetes version";
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** A system user name as useradd accepts it by default. */
export function userNameProblem(value: string): Problem {
  return USER_NAME.test(value) ? undefined : "is not a user name";
}

/** A member of a fixed set. */
export function oneOfProblem(allowed: readonly string[]): (value: string) => Problem {
  return (value) => (allowed.includes(value) ? undefined : "is not one of the choices");
}

/**
 * An absolute, normalized directory path, or "" for none. Written out rather than with
 * node:path, whose import every command's option parsing would pay.
 */
export function directoryOrEmptyProblem(value: string): Problem {
  if (value === "") return undefined;
  if (!value.startsWith("/")) return "is not an absolute path";
  // Control characters and DEL: a path like that is a typo, and would garble the messages that name it.
  if (/[\u0000-\u001f\u007f]/.test(value)) return "holds a control character";
  const segments = value.slice(1).split("/");
  if (value === "/" || segments.some((segment) => segment === "" || segment === "." || segment === "..")) return "is not a normalized directory path";
  return undefined;
}
