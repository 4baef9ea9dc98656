// The real programs that use what apply installed (etcd, etcdctl, openssl, kubectl), run as
// the uid that will use each file on a node. Which uid that is comes from the agent's own
// derivation (analyzeStaticPods over the installed static pods, fileAccess, the etcd user
// from the root's passwd), never from a number written here: a test that ran everything as
// 65534 would pass whatever the agent decided.

import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { execa } from "execa";
import { Accounts } from "../../agent/hostfs/accounts.ts";
import { HostRoot } from "../../agent/hostfs/host-root.ts";
import { INSTALL_RECORD } from "../../agent/paths.ts";
import { fileAccess, holdsSecretMaterial, ruleOfInstalledPath, type FileAccess } from "../../agent/placement/policy.ts";
import { analyzeStaticPods, type StaticPodAnalysis } from "../../agent/placement/static-pods.ts";
import { tempDir } from "./tree.ts";

/** Each program the consumer tests run, and the Debian package it comes from. */
export const CONSUMER_PROGRAMS: Record<string, string> = {
  etcd: "etcd-server",
  etcdctl: "etcd-client",
  openssl: "openssl",
  kubectl: "kubernetes-client",
  setpriv: "util-linux",
};

/** Why the consumer tests cannot run here, or undefined when they can. */
export function consumersUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "they run programs as other uids and apply chowns files: they need root";
  const searchPath = (process.env.PATH ?? "").split(":");
  const missing = Object.entries(CONSUMER_PROGRAMS).filter(([program]) => !searchPath.some((directory) => fs.existsSync(path.join(directory, program))));
  if (missing.length === 0) return undefined;
  return `missing ${missing.map(([program]) => program).join(", ")}: apt-get install ${[...new Set(missing.map(([, debian]) => debian))].join(" ")}`;
}

export interface Identity {
  uid: number;
  gid: number;
}

/** What apply installed under `root`, and who the agent says may read each file. */
export interface InstalledNode {
  root: string;
  /** Host paths from the install record. */
  installed: string[];
  pods: StaticPodAnalysis;
  /** The etcd user as apply resolves it: from the root's passwd files. */
  etcd: Identity;
  /** Owner and mode the placement rule gives a host path (the secret flag includes the content's). */
  access(hostPath: string): FileAccess;
  /** The path of a host file on this machine. */
  at(hostPath: string): string;
}

export function readInstalledNode(root: string): InstalledNode {
  const host = new HostRoot(root);
  const at = (hostPath: string): string => path.join(root, hostPath);
  const installed = (JSON.parse(fs.readFileSync(at(INSTALL_RECORD), "utf8")) as { files: string[] }).files;
  const manifests = installed.filter((file) => file.startsWith("/etc/kubernetes/manifests/")).map((file) => ({ asset: file, content: fs.readFileSync(at(file)) }));
  const pods = analyzeStaticPods(manifests);
  const etcd = new Accounts(host).user("etcd");
  const access = (hostPath: string): FileAccess => {
    const rule = ruleOfInstalledPath(hostPath);
    if (rule === undefined) return { uid: 0, gid: 0, mode: fs.statSync(at(hostPath)).mode & 0o7777, secret: false };
    const placed = fileAccess({ path: hostPath, rule }, pods.readers, { etcd });
    return { ...placed, secret: placed.secret || holdsSecretMaterial(fs.readFileSync(at(hostPath))) };
  };
  return { root, installed, pods, etcd, access, at };
}

/** The uid that reads a pki secret, and checks that the pod the test means is among its readers. */
export function readerOf(node: InstalledNode, hostPath: string, pod: string): Identity {
  const reader = node.pods.readers.get(hostPath);
  if (reader === undefined) throw new Error(`the agent derived no reader for ${hostPath}`);
  if (!reader.pods.some((asset) => asset.endsWith(`/${pod}.yaml`))) throw new Error(`${hostPath} is read by ${reader.pods.join(", ")}, not by ${pod}`);
  return { uid: reader.uid, gid: reader.gid };
}

/** setpriv(1): real and effective uid and gid, no supplementary groups, so no capability either. */
function asIdentity(identity: Identity, command: string, args: readonly string[]): [string, string[]] {
  return ["setpriv", [`--reuid=${identity.uid}`, `--regid=${identity.gid}`, "--clear-groups", "--", command, ...args]];
}

export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export async function runAs(identity: Identity, command: string, args: readonly string[], options: { input?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Ran> {
  const [program, argv] = asIdentity(identity, command, args);
  const result = await execa(program, argv, { reject: false, timeout: 60_000, input: options.input ?? "", ...(options.env ? { env: options.env } : {}), ...(options.cwd ? { cwd: options.cwd } : {}) });
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

export interface Server {
  port: number;
  output(): string;
  stop(): Promise<void>;
}

/** Starts a long-running program as `identity` and waits until `ready` appears in its output. */
export async function startAs(identity: Identity, command: string, args: readonly string[], ready: RegExp, options: { cwd?: string } = {}): Promise<Omit<Server, "port">> {
  const [program, argv] = asIdentity(identity, command, args);
  const child = execa(program, argv, { reject: false, all: true, stdin: "ignore", ...(options.cwd ? { cwd: options.cwd } : {}) });
  let output = "";
  child.all?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const stop = async (): Promise<void> => {
    child.kill("SIGTERM");
    await child;
  };
  const deadline = Date.now() + 30_000;
  while (!ready.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${command} did not start as uid ${identity.uid}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { output: () => output, stop };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** A directory only `identity` (and root) can write, for what a program writes as it runs. */
export function scratchFor(identity: Identity, prefix: string): string {
  const directory = tempDir(prefix);
  fs.chownSync(directory, identity.uid, identity.gid);
  return directory;
}

/**
 * The temp directory holding `root` is 0700 (mkdtemp): the uids the test runs as need to
 * traverse it, as they traverse / on a node. Only it is opened (search only, not listing);
 * nothing the agent installed below it changes.
 */
export function letUidsTraverse(root: string): void {
  fs.chmodSync(root, 0o711);
}

/**
 * An HTTPS server (openssl s_server) serving `documents` as files, that requires a client
 * certificate signed by `clientCa` and drops any other handshake.
 */
export async function serveTls(identity: Identity, files: { cert: string; key: string; clientCa: string }, documents: Record<string, string>): Promise<Server> {
  const root = tempDir("typhoon-https-");
  fs.chmodSync(root, 0o755);
  for (const [name, text] of Object.entries(documents)) fs.writeFileSync(path.join(root, name), text, { mode: 0o644 });
  const port = await freePort();
  const args = ["s_server", "-accept", `127.0.0.1:${port}`, "-cert", files.cert, "-key", files.key, "-CAfile", files.clientCa, "-Verify", "1", "-verify_return_error", "-WWW"];
  const server = await startAs(identity, "openssl", args, /^ACCEPT$/m, { cwd: root });
  return { port, ...server };
}

export interface TlsRequest {
  port: number;
  /** Client certificate and key presented to the server. */
  cert?: string;
  key?: string;
  /** The server's certificate must chain to this CA and carry this DNS name or IP address. */
  verify?: { ca: string; name: string };
  document: string;
}

/** GET `document` over TLS with openssl s_client; ok only when the response came back. */
export async function tlsGet(identity: Identity, request: TlsRequest): Promise<{ ok: boolean; output: string }> {
  const args = ["s_client", "-connect", `127.0.0.1:${request.port}`, "-quiet"];
  if (request.cert !== undefined && request.key !== undefined) args.push("-cert", request.cert, "-key", request.key);
  if (request.verify !== undefined) {
    const isIp = net.isIP(request.verify.name) !== 0;
    args.push("-CAfile", request.verify.ca, "-verify_return_error", isIp ? "-verify_ip" : "-verify_hostname", request.verify.name);
    if (!isIp) args.push("-servername", request.verify.name);
  }
  const result = await runAs(identity, "openssl", args, { input: `GET /${request.document} HTTP/1.0\r\n\r\n` });
  const output = `${result.stdout}${result.stderr}`;
  return { ok: result.exitCode === 0 && /^HTTP\/1\.[01] 200 ok\r?$/im.test(result.stdout), output };
}
