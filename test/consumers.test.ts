// The least-privilege rule proven with the programs that use the files: after an apply under
// --root, a real etcd, etcdctl, openssl and kubectl read what the agent installed, each as the
// uid that will read it on a node, and a uid that reads nothing can open no secret. The uids
// come from the agent's own derivation over the installed static pods (helpers/consumers.ts);
// every check has a control that shows it can fail.

import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { dump, load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { issue, newKeyPair } from "../scripts/pki.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import {
  consumersUnavailable,
  freePort,
  letUidsTraverse,
  readerOf,
  readInstalledNode,
  runAs,
  scratchFor,
  serveTls,
  startAs,
  tlsGet,
  type Identity,
  type InstalledNode,
  type Server,
} from "./helpers/consumers.ts";
import { makeHost, writeSampleBundle } from "./helpers/host.ts";
import { tempDir } from "./helpers/tree.ts";

const unavailable = consumersUnavailable();
if (unavailable !== undefined) console.log(`consumer tests skipped: ${unavailable}`);
const consumerTest = unavailable === undefined ? test : test.skip;

const PKI = "/etc/kubernetes/pki";
const ETCD = "/etc/ssl/etcd/etcd";
const ROOT: Identity = { uid: 0, gid: 0 };
/** The node's admin user on Fedora CoreOS and Flatcar (core): no pod, no daemon runs as it. */
const NOBODY_READS: Identity = { uid: 1000, gid: 1000 };

type Kubeconfig = { clusters: Array<{ cluster: Record<string, string> }>; users: Array<{ user: Record<string, string> }> };

let node: InstalledNode;
const servers: Server[] = [];
/** Every secret a check below used through its real consumer. */
const consumed = new Set<string>();

const file = (hostPath: string): string => node.at(hostPath);
function used(...hostPaths: string[]): void {
  for (const hostPath of hostPaths) consumed.add(hostPath);
}

beforeAll(async () => {
  if (unavailable !== undefined) return;
  const root = makeHost();
  await writeSampleBundle(`${root}/home/core/assets`);
  const apply = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
  if (apply.exitCode !== 0) throw new Error(`apply failed: ${String(apply.stderr)}`);
  letUidsTraverse(root);
  node = readInstalledNode(root);
}, 120_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
});

async function keep<T extends Server>(server: T): Promise<T> {
  servers.push(server);
  return server;
}

describe("the derivation the checks run by is the one apply installed", () => {
  consumerTest("every installed file has the owner and mode the agent derives for it", () => {
    for (const hostPath of node.installed) {
      const stat = fs.statSync(file(hostPath));
      const expected = node.access(hostPath);
      expect({ hostPath, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o7777 }).toEqual({ hostPath, uid: expected.uid, gid: expected.gid, mode: expected.mode });
    }
  });
});

describe("etcd (Debian's etcd-server and etcd-client)", () => {
  consumerTest("etcd runs as the etcd user with the installed server and peer certificates and client-cert auth; etcdctl as the kube-apiserver's uid writes and reads a key", async () => {
    const etcd = node.etcd;
    const data = scratchFor(etcd, "typhoon-etcd-data-");
    fs.chmodSync(data, 0o700);
    const [client, peer] = [await freePort(), await freePort()];
    const clientUrl = `https://127.0.0.1:${client}`;
    const peerUrl = `https://127.0.0.1:${peer}`;
    // Typhoon's etcd.env, on loopback, with the files where apply put them
    const server = await keep({
      port: client,
      ...(await startAs(etcd, "etcd", [
        "--name", "node1", "--data-dir", data,
        "--listen-client-urls", clientUrl, "--advertise-client-urls", clientUrl,
        "--listen-peer-urls", peerUrl, "--initial-advertise-peer-urls", peerUrl, "--initial-cluster", `node1=${peerUrl}`,
        "--trusted-ca-file", file(`${ETCD}/server-ca.crt`), "--cert-file", file(`${ETCD}/server.crt`), "--key-file", file(`${ETCD}/server.key`), "--client-cert-auth",
        "--peer-trusted-ca-file", file(`${ETCD}/peer-ca.crt`), "--peer-cert-file", file(`${ETCD}/peer.crt`), "--peer-key-file", file(`${ETCD}/peer.key`), "--peer-client-cert-auth",
      ], /ready to serve client requests/)),
    });
    used(`${ETCD}/server.key`, `${ETCD}/peer.key`);

    const apiserver = readerOf(node, `${PKI}/etcd-client.key`, "kube-apiserver");
    const tls = ["--cacert", file(`${PKI}/etcd-client-ca.crt`), "--cert", file(`${PKI}/etcd-client.crt`), "--key", file(`${PKI}/etcd-client.key`)];
    const etcdctl = (identity: Identity, ...args: string[]) => runAs(identity, "etcdctl", ["--endpoints", clientUrl, "--dial-timeout", "5s", ...args], { env: { ETCDCTL_API: "3" } });
    const put = await etcdctl(apiserver, ...tls, "put", "/registry/typhoon-consumer-test", "written by the apiserver's uid");
    expect(put.stdout + put.stderr).toBe("OK");
    const get = await etcdctl(apiserver, ...tls, "get", "--print-value-only", "/registry/typhoon-consumer-test");
    expect(get.stdout).toBe("written by the apiserver's uid");
    used(`${PKI}/etcd-client.key`);

    // controls: client-cert auth is on, and the client key is the apiserver uid's alone
    expect((await etcdctl(ROOT, "--cacert", file(`${PKI}/etcd-client-ca.crt`), "get", "/registry/typhoon-consumer-test")).exitCode).not.toBe(0);
    const denied = await etcdctl(NOBODY_READS, ...tls, "get", "/registry/typhoon-consumer-test");
    expect(denied.exitCode).not.toBe(0);
    expect(denied.stderr).toMatch(/permission denied/);

    // The peer listener serves peer.crt, which chains to peer-ca.crt and names the etcd hosts
    // (as Typhoon issues it), and turns away a member without a certificate. A member that
    // presents peer.crt from 127.0.0.1 is turned away too: etcd checks a peer's certificate
    // against the address it connects from, which a loopback test cannot match.
    const peerName = new X509Certificate(fs.readFileSync(file(`${ETCD}/peer.crt`))).subjectAltName!.split(", ")[0]!.replace(/^DNS:/, "");
    const rejectionsBefore = server.output().split("client didn't provide a certificate").length;
    const asPeer = await tlsGet(etcd, { port: peer, verify: { ca: file(`${ETCD}/peer-ca.crt`), name: peerName }, document: "version" });
    expect(asPeer.output).toMatch(/depth=0 CN = etcd-peer, O = etcd\r?\nverify return:1/);
    expect(asPeer.ok).toBe(false);
    const rejections = () => server.output().split("client didn't provide a certificate").length;
    for (let waited = 0; waited < 50 && rejections() === rejectionsBefore; waited++) await Bun.sleep(100);
    expect(rejections()).toBe(rejectionsBefore + 1);
    await server.stop();
  }, 120_000);
});

describe("the control plane's TLS (openssl s_server and s_client)", () => {
  /** The admin client certificate out of admin.conf, as files (root reads admin.conf). */
  function adminClientFiles(): { cert: string; key: string } {
    const kubeconfig = load(fs.readFileSync(file(`${PKI}/admin.conf`), "utf8")) as Kubeconfig;
    const directory = tempDir("typhoon-admin-client-");
    const user = kubeconfig.users[0]!.user;
    fs.writeFileSync(path.join(directory, "admin.crt"), Buffer.from(user["client-certificate-data"]!, "base64"), { mode: 0o600 });
    fs.writeFileSync(path.join(directory, "admin.key"), Buffer.from(user["client-key-data"]!, "base64"), { mode: 0o600 });
    return { cert: path.join(directory, "admin.crt"), key: path.join(directory, "admin.key") };
  }

  async function apiserverStandIn(): Promise<Server> {
    const apiserver = readerOf(node, `${PKI}/apiserver.key`, "kube-apiserver");
    const files = { cert: file(`${PKI}/apiserver.crt`), key: file(`${PKI}/apiserver.key`), clientCa: file(`${PKI}/ca.crt`) };
    return keep(await serveTls(apiserver, files, { healthz: "ok" }));
  }

  consumerTest("apiserver.crt/.key are served by s_server as the kube-apiserver's uid, and a client verifying against ca.crt accepts every DNS and IP SAN", async () => {
    const server = await apiserverStandIn();
    used(`${PKI}/apiserver.key`);
    const sans = new X509Certificate(fs.readFileSync(file(`${PKI}/apiserver.crt`))).subjectAltName!.split(", ").map((san) => san.replace(/^(DNS|IP Address):/, ""));
    expect(sans).toEqual(expect.arrayContaining(["kubernetes", "kubernetes.default.svc", "10.3.0.1"]));
    const client = adminClientFiles();
    for (const name of sans) {
      const result = await tlsGet(ROOT, { port: server.port, ...client, verify: { ca: file(`${PKI}/ca.crt`), name }, document: "healthz" });
      expect(result.ok, `${name}: ${result.output}`).toBe(true);
    }
    // controls: a name the certificate lacks, a CA that did not sign it, no client certificate
    const caFile = file(`${PKI}/ca.crt`);
    expect((await tlsGet(ROOT, { port: server.port, ...client, verify: { ca: caFile, name: "not-in-the-certificate.example" }, document: "healthz" })).ok).toBe(false);
    expect((await tlsGet(ROOT, { port: server.port, ...client, verify: { ca: file(`${PKI}/aggregation-ca.crt`), name: "kubernetes" }, document: "healthz" })).ok).toBe(false);
    expect((await tlsGet(ROOT, { port: server.port, verify: { ca: caFile, name: "kubernetes" }, document: "healthz" })).ok).toBe(false);
    await server.stop();
  }, 120_000);

  consumerTest("each kubeconfig, used by kubectl as the uid that owns it, passes a server that requires a client certificate signed by ca.crt", async () => {
    const server = await apiserverStandIn();
    const kubeconfigs = node.installed.filter((hostPath) => hostPath.startsWith(`${PKI}/`) && /^kind:\s*Config\s*$/m.test(fs.readFileSync(file(hostPath), "utf8")));
    expect(kubeconfigs.map((hostPath) => path.basename(hostPath)).sort()).toEqual(["admin.conf", "controller-manager.conf", "scheduler.conf"]);
    // The server URL in them names the cluster's DNS name (port 6443), which does not resolve
    // here: --server points kubectl at the stand-in, and --tls-server-name keeps the name it
    // verifies the server certificate for the one in the kubeconfig. The CA, the client
    // certificate and the key all still come from the installed file, read by its owner.
    const kubectl = async (identity: Identity, kubeconfig: string) => {
      const { clusters } = load(fs.readFileSync(kubeconfig, "utf8")) as Kubeconfig;
      const serverName = new URL(clusters[0]!.cluster.server!).hostname;
      const args = ["--kubeconfig", kubeconfig, "--server", `https://127.0.0.1:${server.port}`, "--tls-server-name", serverName, "get", "--raw", "/healthz"];
      return runAs(identity, "kubectl", args, { env: { HOME: scratchFor(identity, "typhoon-kubectl-home-") } });
    };
    for (const kubeconfig of kubeconfigs) {
      const owner = node.access(kubeconfig);
      const readers = node.pods.references.get(kubeconfig) ?? [];
      // admin.conf: no pod reads it; bootstrap.service's kubectl does, as root
      expect({ kubeconfig, uid: owner.uid }).toEqual({ kubeconfig, uid: readers.length === 0 ? 0 : node.pods.readers.get(kubeconfig)!.uid });
      const result = await kubectl(owner, file(kubeconfig));
      expect({ kubeconfig, exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr }).toEqual({ kubeconfig, exitCode: 0, stdout: "ok", stderr: "" });
      used(kubeconfig);
      if (owner.uid !== 0) expect((await kubectl(NOBODY_READS, file(kubeconfig))).stderr).toMatch(/permission denied/);
    }
    // control: the same kubeconfig with a client certificate another CA signed is turned away
    const foreign = load(fs.readFileSync(file(`${PKI}/scheduler.conf`), "utf8")) as Kubeconfig;
    foreign.users[0]!.user["client-certificate-data"] = fs.readFileSync(file(`${PKI}/aggregation-client.crt`)).toString("base64");
    foreign.users[0]!.user["client-key-data"] = fs.readFileSync(file(`${PKI}/aggregation-client.key`)).toString("base64");
    const foreignFile = path.join(tempDir("typhoon-foreign-kubeconfig-"), "foreign.conf");
    fs.writeFileSync(foreignFile, dump(foreign), { mode: 0o600 });
    expect((await kubectl(ROOT, foreignFile)).exitCode).not.toBe(0);
    await server.stop();
  }, 180_000);

  consumerTest("the aggregation client certificate, presented by the kube-apiserver's uid, passes a server that requires aggregation-ca", async () => {
    const serverKeys = await newKeyPair();
    const serverCert = await issue({ subject: "/CN=aggregated-api-stand-in", usage: "server", sans: ["IP:127.0.0.1"] }, serverKeys);
    const directory = tempDir("typhoon-aggregated-");
    fs.writeFileSync(path.join(directory, "server.crt"), serverCert.cert);
    fs.writeFileSync(path.join(directory, "server.key"), serverKeys.key, { mode: 0o600 });
    const server = await keep(await serveTls(ROOT, { cert: path.join(directory, "server.crt"), key: path.join(directory, "server.key"), clientCa: file(`${PKI}/aggregation-ca.crt`) }, { apis: "{}" }));
    const apiserver = readerOf(node, `${PKI}/aggregation-client.key`, "kube-apiserver");
    const request = { port: server.port, cert: file(`${PKI}/aggregation-client.crt`), key: file(`${PKI}/aggregation-client.key`), document: "apis" };
    const result = await tlsGet(apiserver, request);
    expect(result.ok, result.output).toBe(true);
    used(`${PKI}/aggregation-client.key`);
    // control: the apiserver's serving certificate chains to ca.crt, not aggregation-ca
    expect((await tlsGet(apiserver, { ...request, cert: file(`${PKI}/apiserver.crt`), key: file(`${PKI}/apiserver.key`) })).ok).toBe(false);
    await server.stop();
  }, 120_000);
});

describe("signing keys (openssl)", () => {
  consumerTest("service-account.key signs, as the uid of the pods that read it, what service-account.pub verifies", async () => {
    const key = `${PKI}/service-account.key`;
    const reader = node.pods.readers.get(key)!;
    expect(reader.pods.sort()).toEqual(["/etc/kubernetes/manifests/kube-apiserver.yaml", "/etc/kubernetes/manifests/kube-controller-manager.yaml"]);
    const signer = readerOf(node, key, "kube-controller-manager");
    const work = scratchFor(signer, "typhoon-sa-");
    fs.chmodSync(work, 0o755);
    fs.writeFileSync(path.join(work, "token"), "a service account token's signing input", { mode: 0o644 });
    const sign = await runAs(signer, "openssl", ["dgst", "-sha256", "-sign", file(key), "-out", path.join(work, "token.sig"), path.join(work, "token")]);
    expect(sign.exitCode, sign.stderr).toBe(0);
    used(key);
    const verify = (data: string) => runAs(NOBODY_READS, "openssl", ["dgst", "-sha256", "-verify", file(`${PKI}/service-account.pub`), "-signature", path.join(work, "token.sig"), data]);
    expect((await verify(path.join(work, "token"))).stdout).toBe("Verified OK");
    // control: other data does not verify
    fs.writeFileSync(path.join(work, "other"), "something else", { mode: 0o644 });
    expect((await verify(path.join(work, "other"))).exitCode).not.toBe(0);
  }, 60_000);

  consumerTest("ca.key signs, as the kube-controller-manager's uid, a certificate that chains to ca.crt", async () => {
    const signer = readerOf(node, `${PKI}/ca.key`, "kube-controller-manager");
    const work = scratchFor(signer, "typhoon-csr-");
    fs.chmodSync(work, 0o755);
    const keys = await newKeyPair();
    fs.writeFileSync(path.join(work, "node.key"), keys.key, { mode: 0o600 });
    const csr = await runAs(ROOT, "openssl", ["req", "-new", "-key", path.join(work, "node.key"), "-subj", "/CN=system:node:node1/O=system:nodes", "-out", path.join(work, "node.csr")]);
    expect(csr.exitCode, csr.stderr).toBe(0);
    fs.chmodSync(path.join(work, "node.csr"), 0o644);
    const sign = await runAs(signer, "openssl", ["x509", "-req", "-in", path.join(work, "node.csr"), "-CA", file(`${PKI}/ca.crt`), "-CAkey", file(`${PKI}/ca.key`), "-set_serial", "1", "-days", "1", "-out", path.join(work, "node.crt")]);
    expect(sign.exitCode, sign.stderr).toBe(0);
    used(`${PKI}/ca.key`);
    const verify = (ca: string) => runAs(NOBODY_READS, "openssl", ["verify", "-CAfile", ca, path.join(work, "node.crt")]);
    expect((await verify(file(`${PKI}/ca.crt`))).stdout).toContain(": OK");
    expect((await verify(file(`${PKI}/aggregation-ca.crt`))).exitCode).not.toBe(0);
  }, 60_000);
});

describe("a uid that reads nothing", () => {
  consumerTest("uid 1000 can open no secret the agent installed; it does read the public certificates, so the denials are the files' own", async () => {
    const uids = new Set([node.etcd.uid, ...[...node.pods.readers.values()].map((reader) => reader.uid)]);
    expect(uids.has(NOBODY_READS.uid)).toBe(false);
    const secrets = node.installed.filter((hostPath) => node.access(hostPath).secret);
    const keysAndKubeconfigs = node.installed.filter((hostPath) => /\.(key|conf)$/.test(hostPath));
    expect(secrets).toEqual(expect.arrayContaining(keysAndKubeconfigs));
    const publicFiles = node.installed.filter((hostPath) => hostPath.startsWith(`${PKI}/`) && /\.(crt|pub)$/.test(hostPath));
    const tryOpen = "for f; do if head -c1 -- \"$f\" >/dev/null 2>&1; then echo \"read $f\"; else echo \"denied $f\"; fi; done";
    const result = await runAs(NOBODY_READS, "sh", ["-c", tryOpen, "sh", ...[...secrets, ...publicFiles].map(file)]);
    const expected = [...secrets.map((hostPath) => `denied ${file(hostPath)}`), ...publicFiles.map((hostPath) => `read ${file(hostPath)}`)];
    expect(result.stdout.trim().split("\n")).toEqual(expected);
  });

  consumerTest("every key and kubeconfig the agent installed went through its real consumer above", () => {
    const secrets = node.installed.filter((hostPath) => node.access(hostPath).secret && /\.(key|conf)$/.test(hostPath));
    expect([...consumed].sort()).toEqual(secrets.sort());
  });
});
