// Test PKI for a Typhoon cluster, made fresh at run time (never committed): the same
// certificates terraform-render-bootstrap issues, RSA 2048 keys from node:crypto, signed
// by openssl (node:crypto reads certificates but cannot issue them).

import { generateKeyPair } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { execa } from "execa";

const generateKeyPairAsync = promisify(generateKeyPair);

export interface KeyPair {
  /** PKCS#1 PEM, like Terraform's tls_private_key. */
  key: string;
  /** SPKI PEM. */
  publicKey: string;
}

export interface IssuedCert extends KeyPair {
  cert: string;
}

export type Usage = "ca" | "server" | "client" | "server-client";

export interface CertRequest {
  subject: string;
  usage: Usage;
  sans?: readonly string[];
  /** End of validity in days from now (default 365); negative: already expired. */
  days?: number;
  /** Start of validity in days from now (default 0); negative: back-dated. */
  startDays?: number;
}

// Just enough configuration for `req` and `ca`, so the machine's openssl.cnf cannot add
// extensions of its own. `ca` keeps its database (index.txt, serial) in the work directory.
const MINIMAL_OPENSSL_CONFIG = [
  "[req]", "distinguished_name=dn", "[dn]",
  "[ca_default]", "database=index.txt", "serial=serial", "policy=policy_any", "unique_subject=no",
  "[policy_any]", "",
].join("\n");

/**
 * Every private key this process generated, in order: the test suite's secret canary
 * (test/helpers/canary.ts) searches all output of the run for fragments of them.
 */
const generatedKeys: string[] = [];

export function generatedPrivateKeys(): readonly string[] {
  return generatedKeys;
}

export async function newKeyPair(bits = 2048): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPairAsync("rsa", {
    modulusLength: bits,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  generatedKeys.push(privateKey);
  return { key: privateKey, publicKey };
}

/** Issues a certificate for `keys`, self-signed when `issuer` is undefined. */
export async function issue(request: CertRequest, keys: KeyPair, issuer?: IssuedCert): Promise<IssuedCert> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "typhoon-pki-"));
  try {
    const write = (name: string, text: string): string => {
      const file = path.join(work, name);
      fs.writeFileSync(file, text, { mode: 0o600 });
      return file;
    };
    const config = write("openssl.cnf", MINIMAL_OPENSSL_CONFIG);
    const keyFile = write("leaf.key", keys.key);
    const out = path.join(work, "leaf.crt");
    const extensions = extensionArgs(request);
    const startDays = request.startDays ?? 0;
    const days = request.days ?? 365;
    if (startDays === 0 && days > 0) {
      const signer = issuer === undefined ? [] : ["-CA", write("ca.crt", issuer.cert), "-CAkey", write("ca.key", issuer.key)];
      await execa("openssl", ["req", "-config", config, "-x509", "-new", "-key", keyFile, "-subj", request.subject, ...signer, "-days", String(days), ...extensions, "-out", out]);
    } else {
      // Back-dated or already expired: only `openssl ca` takes explicit start and end dates.
      await issueWithDates(work, config, keyFile, request, startDays, days, issuer, write);
    }
    return { ...keys, cert: fs.readFileSync(out, "utf8") };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function issueWithDates(
  work: string,
  config: string,
  keyFile: string,
  request: CertRequest,
  startDays: number,
  days: number,
  issuer: IssuedCert | undefined,
  write: (name: string, text: string) => string,
): Promise<void> {
  const csr = path.join(work, "leaf.csr");
  await execa("openssl", ["req", "-config", config, "-new", "-key", keyFile, "-subj", request.subject, "-out", csr]);
  write("index.txt", "");
  write("serial", `${Date.now().toString(16).padStart(16, "0")}\n`);
  const extensionFile = write("ext.cnf", `[ext]\n${extensionLines(request).join("\n")}\n`);
  const signer = issuer === undefined ? ["-selfsign", "-keyfile", keyFile] : ["-cert", write("ca.crt", issuer.cert), "-keyfile", write("ca.key", issuer.key)];
  const start = new Date(Date.now() + startDays * 86_400_000);
  const end = new Date(Date.now() + days * 86_400_000);
  await execa("openssl", [
    "ca", "-batch", "-config", config, "-notext", "-md", "sha256", "-outdir", work,
    "-name", "ca_default", "-policy", "policy_any", "-preserveDN",
    "-startdate", opensslDate(start), "-enddate", opensslDate(end),
    "-extfile", extensionFile, "-extensions", "ext",
    ...signer, "-in", csr, "-out", path.join(work, "leaf.crt"),
  ], { cwd: work });
}

function opensslDate(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
}

function extensionLines(request: CertRequest): string[] {
  const lines: string[] = [];
  if (request.usage === "ca") {
    lines.push("basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature");
  } else {
    lines.push("basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment");
    const usages = { server: "serverAuth", client: "clientAuth", "server-client": "serverAuth,clientAuth" } as const;
    lines.push(`extendedKeyUsage=${usages[request.usage]}`);
  }
  if (request.sans !== undefined && request.sans.length > 0) lines.push(`subjectAltName=${request.sans.join(",")}`);
  return lines;
}

function extensionArgs(request: CertRequest): string[] {
  return extensionLines(request).flatMap((line) => ["-addext", line]);
}

export interface ClusterPkiOptions {
  apiServerHost?: string;
  etcdHosts?: readonly string[];
  days?: number;
}

/** Every TLS asset of the bundle, keyed by its asset name. */
export async function makeClusterPki(options: ClusterPkiOptions = {}): Promise<Map<string, string>> {
  const apiServerHost = options.apiServerHost ?? "example.typhoon.test";
  const etcdHosts = options.etcdHosts ?? ["node1.example.typhoon.test"];
  const days = options.days ?? 365;
  // As terraform-render-bootstrap issues them: the server certificate names the etcd hosts,
  // localhost and 127.0.0.1 (clients on the controller itself reach it on loopback), the peer
  // certificate only the etcd hosts (members reach each other by name).
  const etcdPeerSans = etcdHosts.map((host) => `DNS:${host}`);
  const etcdSans = [...etcdPeerSans, "DNS:localhost", "IP:127.0.0.1"];

  const keys = await Promise.all(Array.from({ length: 12 }, () => newKeyPair()));
  const next = (() => {
    let index = 0;
    return () => keys[index++]!;
  })();

  const [kubeCa, aggregationCa, etcdCa] = await Promise.all([
    issue({ subject: "/CN=kubernetes-ca/O=bootkube", usage: "ca", days }, next()),
    issue({ subject: "/CN=kubernetes-front-proxy-ca", usage: "ca", days }, next()),
    issue({ subject: "/CN=etcd-ca/O=etcd", usage: "ca", days }, next()),
  ]);
  const [apiserver, admin, controllerManager, scheduler, aggregationClient, etcdClient, etcdServer, etcdPeer] = await Promise.all([
    issue(
      {
        subject: "/CN=kube-apiserver/O=system:masters",
        usage: "server-client",
        days,
        sans: [
          `DNS:${apiServerHost}`,
          "DNS:kubernetes",
          "DNS:kubernetes.default",
          "DNS:kubernetes.default.svc",
          "DNS:kubernetes.default.svc.cluster.local",
          "IP:10.3.0.1",
        ],
      },
      next(),
      kubeCa,
    ),
    issue({ subject: "/CN=kubernetes-admin/O=system:masters", usage: "client", days }, next(), kubeCa),
    issue({ subject: "/CN=system:kube-controller-manager", usage: "client", days }, next(), kubeCa),
    issue({ subject: "/CN=system:kube-scheduler", usage: "client", days }, next(), kubeCa),
    issue({ subject: "/CN=kube-apiserver", usage: "client", days }, next(), aggregationCa),
    issue({ subject: "/CN=etcd-client/O=etcd", usage: "client", days }, next(), etcdCa),
    issue({ subject: "/CN=etcd-server/O=etcd", usage: "server-client", days, sans: etcdSans }, next(), etcdCa),
    issue({ subject: "/CN=etcd-peer/O=etcd", usage: "server-client", days, sans: etcdPeerSans }, next(), etcdCa),
  ]);
  const serviceAccount = next();

  return new Map<string, string>([
    ["tls/k8s/ca.crt", kubeCa.cert],
    ["tls/k8s/ca.key", kubeCa.key],
    ["tls/k8s/apiserver.crt", apiserver.cert],
    ["tls/k8s/apiserver.key", apiserver.key],
    ["tls/k8s/aggregation-ca.crt", aggregationCa.cert],
    ["tls/k8s/aggregation-client.crt", aggregationClient.cert],
    ["tls/k8s/aggregation-client.key", aggregationClient.key],
    ["tls/k8s/service-account.key", serviceAccount.key],
    ["tls/k8s/service-account.pub", serviceAccount.publicKey],
    ["tls/etcd/etcd-client-ca.crt", etcdCa.cert],
    ["tls/etcd/etcd-client.crt", etcdClient.cert],
    ["tls/etcd/etcd-client.key", etcdClient.key],
    ["tls/etcd/server-ca.crt", etcdCa.cert],
    ["tls/etcd/server.crt", etcdServer.cert],
    ["tls/etcd/server.key", etcdServer.key],
    ["tls/etcd/peer-ca.crt", etcdCa.cert],
    ["tls/etcd/peer.crt", etcdPeer.cert],
    ["tls/etcd/peer.key", etcdPeer.key],
    // Kubeconfig material, not assets of their own.
    ["client/admin.crt", admin.cert],
    ["client/admin.key", admin.key],
    ["client/controller-manager.crt", controllerManager.cert],
    ["client/controller-manager.key", controllerManager.key],
    ["client/scheduler.crt", scheduler.cert],
    ["client/scheduler.key", scheduler.key],
  ]);
}
