// The cryptographic checks, with node:crypto only: each certificate matches its key and
// chains to its CA, kubeconfigs embed the cluster CA and a client certificate it signed,
// the service-account keys are one pair, and nothing is expired, not yet valid, or close to
// expiring. Which files those are comes from certificates.ts.

import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { load } from "js-yaml";
import { messageOf } from "../errors.ts";
import { isObject, yamlProblem } from "../json.ts";
import { CERTIFICATE_LIST, type Certificate, type CertificateList } from "./certificates.ts";
import type { CertificateFacts, CertificateRow, Finding, NameFields } from "./findings.ts";

const DAY_MS = 86_400_000;

interface PkiInput {
  /** Content of an installed file, or undefined when it is not there to read (reported elsewhere). */
  read(hostPath: string): Buffer | undefined;
  now: Date;
  warnDays: number;
}

interface Check {
  input: PkiInput;
  certificates: CertificateFacts[];
  findings: Finding[];
  /** The certificate at a host path, parsed once (its parse finding reported once). */
  certificateAt(path: string): X509Certificate | undefined;
}

export function checkPki(input: PkiInput): { certificates: CertificateFacts[]; findings: Finding[] } {
  const parsed = new Map<string, X509Certificate | undefined>();
  const check: Check = {
    input,
    certificates: [],
    findings: [],
    certificateAt: (path) => {
      if (!parsed.has(path)) parsed.set(path, parseCertificate(input.read(path), path, check.findings));
      return parsed.get(path);
    },
  };
  for (const certificate of CERTIFICATE_LIST.certificates) checkCertificate(check, certificate);
  for (const pair of CERTIFICATE_LIST.keyPairs) checkKeyPair(check, pair);
  for (const kubeconfig of CERTIFICATE_LIST.kubeconfigs) checkKubeconfig(check, kubeconfig);
  return { certificates: check.certificates, findings: check.findings };
}

/** A certificate matches its key and is signed by its CA; a key or CA it cannot be checked against is a finding too. */
function checkCertificate(check: Check, spec: Certificate): void {
  const { input, findings } = check;
  const certificate = check.certificateAt(spec.path);
  if (certificate === undefined) return;
  check.certificates.push(rowOf({ name: spec.name, path: spec.path }, certificate, spec.ca?.name, input, findings));
  if (spec.keyPath !== undefined) {
    const key = parseKey(input.read(spec.keyPath), spec.keyPath, findings);
    if (key === undefined) {
      findings.push({ severity: "error", check: "key", path: spec.path, message: `cannot be checked against its private key ${spec.keyPath}, ${unusable(input, spec.keyPath)}` });
    } else if (!certificate.checkPrivateKey(key)) {
      findings.push({ severity: "error", check: "key", path: spec.path, message: `does not match its private key ${spec.keyPath}` });
    }
  }
  if (spec.ca === undefined) return;
  const issuer = check.certificateAt(spec.ca.path);
  if (issuer === undefined) {
    findings.push({ severity: "error", check: "chain", path: spec.path, message: `cannot be checked against its CA ${spec.ca.path}, ${unusable(input, spec.ca.path)}` });
  } else if (!signedBy(certificate, issuer)) {
    findings.push({ severity: "error", check: "chain", path: spec.path, message: `is not signed by ${spec.ca.path} (issuer ${oneLine(certificate.issuer)})` });
  }
}

/** Why a key or CA could not be used, for the finding about the certificate that needed it. */
function unusable(input: PkiInput, path: string): string {
  return input.read(path) === undefined ? "which is not a regular file the last apply installed" : "which does not parse";
}

/** A private key and the public key beside it are one pair. */
function checkKeyPair(check: Check, pair: CertificateList["keyPairs"][number]): void {
  const { input, findings } = check;
  const key = parseKey(input.read(pair.keyPath), pair.keyPath, findings);
  const publicText = input.read(pair.publicKeyPath);
  if (key === undefined || publicText === undefined) return;
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey(publicText);
  } catch (error) {
    findings.push({ severity: "error", check: "parse", path: pair.publicKeyPath, message: `is not a public key: ${messageOf(error)}` });
    return;
  }
  if (!spki(createPublicKey(key)).equals(spki(publicKey))) {
    findings.push({ severity: "error", check: "key", path: pair.publicKeyPath, message: `is not the public half of ${pair.keyPath}` });
  }
}

/** A kubeconfig trusts only its CA, and its client certificate matches its key and is signed by that CA. */
function checkKubeconfig(check: Check, kubeconfig: CertificateList["kubeconfigs"][number]): void {
  const { input, findings } = check;
  const text = input.read(kubeconfig.path);
  const clusterCa = check.certificateAt(kubeconfig.ca.path);
  if (text === undefined) return;
  const embedded = parseKubeconfig(text, kubeconfig.path, findings);
  if (embedded === undefined) return;
  const uncheckable = `cannot be checked against ${kubeconfig.ca.path}, ${unusable(input, kubeconfig.ca.path)}`;
  for (const caPem of embedded.caCertificates) {
    const ca = parseCertificate(caPem, `${kubeconfig.path} certificate-authority-data`, findings);
    if (ca === undefined) continue;
    if (clusterCa === undefined) {
      findings.push({ severity: "error", check: "ca", path: kubeconfig.path, message: `certificate-authority-data ${uncheckable}` });
    } else if (!ca.raw.equals(clusterCa.raw)) {
      findings.push({ severity: "error", check: "ca", path: kubeconfig.path, message: `trusts a CA other than ${kubeconfig.ca.path} (${oneLine(ca.subject)})` });
    }
  }
  for (const user of embedded.clients) {
    const client = parseCertificate(user.certificate, `${kubeconfig.path} client-certificate-data`, findings);
    if (client === undefined) continue;
    const identity = { name: `${kubeconfig.name} client`, path: kubeconfig.path, kubeconfigUser: user.name ?? "" };
    check.certificates.push(rowOf(identity, client, kubeconfig.ca.name, input, findings));
    const key = parseKey(user.key, `${kubeconfig.path} client-key-data`, findings);
    if (key === undefined) {
      findings.push({ severity: "error", check: "key", path: kubeconfig.path, message: "client-certificate-data cannot be checked: client-key-data is missing or does not parse" });
    } else if (!client.checkPrivateKey(key)) {
      findings.push({ severity: "error", check: "key", path: kubeconfig.path, message: "client-certificate-data does not match client-key-data" });
    }
    if (clusterCa === undefined) {
      findings.push({ severity: "error", check: "chain", path: kubeconfig.path, message: `client certificate ${uncheckable}` });
    } else if (!signedBy(client, clusterCa)) {
      findings.push({ severity: "error", check: "chain", path: kubeconfig.path, message: `client certificate is not signed by ${kubeconfig.ca.path} (issuer ${oneLine(client.issuer)})` });
    }
  }
}

type RowIdentity = Pick<CertificateRow, "name" | "path" | "kubeconfigUser">;

/** The row without its status, which statusOf derives once every finding is in. */
function rowOf(identity: RowIdentity, certificate: X509Certificate, ca: string | undefined, input: PkiInput, findings: Finding[]): CertificateFacts {
  const { name, path } = identity;
  const notBefore = certificate.validFromDate;
  const notAfter = certificate.validToDate;
  // Whole days, toward zero: 29.9 days left is 29, expired 1.2 days ago is -1.
  const daysLeft = Math.trunc((notAfter.getTime() - input.now.getTime()) / DAY_MS);
  const legacy = certificate.toLegacyObject();
  const row: CertificateFacts = {
    ...identity,
    subject: oneLine(certificate.subject),
    issuer: oneLine(certificate.issuer),
    serialNumber: certificate.serialNumber,
    names: { subject: nameFields(legacy.subject), issuer: nameFields(legacy.issuer) },
    sans: certificate.subjectAltName === undefined ? [] : certificate.subjectAltName.split(", ").map((san) => san.replace(/^IP Address:/, "IP:")),
    ca,
    notBefore: notBefore.toISOString(),
    notAfter: notAfter.toISOString(),
    daysLeft,
  };
  if (input.now < notBefore) {
    findings.push({ severity: "error", check: "validity", path, message: `${name} is not valid before ${row.notBefore} (check the clock)`, certificate: row });
  } else if (input.now > notAfter) {
    findings.push({ severity: "error", check: "validity", path, message: `${name} expired on ${row.notAfter}`, certificate: row });
  } else if (daysLeft < input.warnDays) {
    findings.push({ severity: "warning", check: "validity", path, message: `${name} expires on ${row.notAfter}, in ${daysLeft} days`, certificate: row });
  }
  return row;
}

/**
 * The legacy object holds each attribute unescaped, as a string, or an array when the name
 * repeats it; Go keeps the first C, ST, L, O, OU and the last CN, and so does this.
 */
function nameFields(name: object | undefined): NameFields {
  const fields: NameFields = {};
  const attributes = (name ?? {}) as Record<string, string | string[] | undefined>;
  for (const attribute of ["C", "ST", "L", "O", "OU", "CN"] as const) {
    const value = attributes[attribute];
    const chosen = Array.isArray(value) ? (attribute === "CN" ? value.at(-1) : value[0]) : value;
    if (chosen !== undefined && chosen !== "") fields[attribute] = chosen;
  }
  return fields;
}

/** Issued by `ca` by name and signed with its key: the chain a TLS peer would build. */
function signedBy(certificate: X509Certificate, ca: X509Certificate): boolean {
  return certificate.checkIssued(ca) && certificate.verify(ca.publicKey);
}

function parseCertificate(pem: Buffer | undefined, path: string, findings: Finding[]): X509Certificate | undefined {
  if (pem === undefined) return undefined;
  try {
    return new X509Certificate(pem);
  } catch (error) {
    findings.push({ severity: "error", check: "parse", path, message: `is not a PEM certificate: ${messageOf(error)}` });
    return undefined;
  }
}

function parseKey(pem: Buffer | undefined, path: string, findings: Finding[]): KeyObject | undefined {
  if (pem === undefined) return undefined;
  try {
    return createPrivateKey(pem);
  } catch (error) {
    findings.push({ severity: "error", check: "parse", path, message: `is not a PEM private key: ${messageOf(error)}` });
    return undefined;
  }
}

interface EmbeddedMaterial {
  caCertificates: Buffer[];
  clients: Array<{ name: string | undefined; certificate: Buffer; key: Buffer | undefined }>;
}

function parseKubeconfig(text: Buffer, path: string, findings: Finding[]): EmbeddedMaterial | undefined {
  let document: unknown;
  try {
    document = load(text.toString("utf8"));
  } catch (error) {
    findings.push({ severity: "error", check: "parse", path, message: `is not YAML: ${yamlProblem(error)}` });
    return undefined;
  }
  const named = (list: unknown, field: "cluster" | "user"): Array<{ name: string | undefined; body: Record<string, unknown> }> =>
    Array.isArray(list)
      ? list.flatMap((entry) => (isObject(entry) && isObject(entry[field]) ? [{ name: typeof entry.name === "string" ? entry.name : undefined, body: entry[field] }] : []))
      : [];
  const data = (value: unknown, field: string): Buffer | undefined => {
    if (typeof value !== "string") return undefined;
    const problem = base64Problem(value);
    if (problem === undefined) return Buffer.from(value, "base64");
    findings.push({ severity: "error", check: "parse", path, message: `${field} is not valid base64: ${problem}` });
    return undefined;
  };
  if (!isObject(document) || document.kind !== "Config") {
    findings.push({ severity: "error", check: "parse", path, message: "is not a kubeconfig (kind: Config)" });
    return undefined;
  }
  return {
    caCertificates: named(document.clusters, "cluster").flatMap((cluster) => data(cluster.body["certificate-authority-data"], "certificate-authority-data") ?? []),
    clients: named(document.users, "user").flatMap(({ name, body }) => {
      const certificate = data(body["client-certificate-data"], "client-certificate-data");
      return certificate === undefined ? [] : [{ name, certificate, key: data(body["client-key-data"], "client-key-data") }];
    }),
  };
}

/**
 * Where `value` stops being base64 as kubectl decodes it (Go's StdEncoding: the alphabet,
 * padded to whole quads, line breaks ignored); Buffer.from would skip what it does not know.
 */
function base64Problem(value: string): string | undefined {
  const text = value.replace(/[\r\n]/g, "");
  const bad = text.search(/[^A-Za-z0-9+/=]|=[^=]|={3}/);
  if (bad >= 0) return `an unexpected character at position ${bad + 1}`;
  return text.length % 4 === 0 ? undefined : `its length, ${text.length}, is not a multiple of 4`;
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: "spki", format: "der" });
}

/** X509Certificate names are one attribute per line, and undefined when empty. */
function oneLine(name: string | undefined): string {
  return name === undefined || name === "" ? "(empty)" : name.split("\n").join(", ");
}
