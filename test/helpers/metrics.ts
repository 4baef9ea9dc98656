// What the metrics tests share: the textfile collector directory of a scratch host, the
// files the agent wrote there, and each installed certificate as openssl reads it, apart
// from the agent's own parsing.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { load } from "js-yaml";
import { TEXTFILE_COLLECTOR_DIRECTORY } from "../../agent/paths.ts";
import { parseExposition, type ParsedSample } from "./exposition.ts";

export const TEXTFILE_DIR = TEXTFILE_COLLECTOR_DIRECTORY;

export function metricsFile(root: string, name: "typhoon_agent_verify.prom" | "typhoon_agent_apply.prom"): string {
  return path.join(root, TEXTFILE_DIR, name);
}

export function readMetrics(root: string, name: "typhoon_agent_verify.prom" | "typhoon_agent_apply.prom"): ParsedSample[] {
  return parseExposition(fs.readFileSync(metricsFile(root, name), "utf8"));
}

export interface OpensslCertificate {
  /** Host path, and the kubeconfig user for a client certificate embedded in a kubeconfig. */
  filepath: string;
  user: string;
  notAfter: number;
  notBefore: number;
  serialDecimal: string;
  subjectCN: string;
  issuerCN: string;
}

/** Every certificate below the installed PKI directories, read with openssl. */
export function installedCertificates(root: string): OpensslCertificate[] {
  const found: OpensslCertificate[] = [];
  for (const directory of ["etc/kubernetes/pki", "etc/ssl/etcd/etcd"]) {
    for (const name of fs.readdirSync(path.join(root, directory)).sort()) {
      const file = path.join(root, directory, name);
      const text = fs.readFileSync(file, "utf8");
      if (text.includes("-----BEGIN CERTIFICATE-----")) found.push(opensslRead(text, `/${directory}/${name}`, ""));
      if (!text.includes("client-certificate-data")) continue;
      const kubeconfig = load(text) as { users: Array<{ name: string; user: Record<string, string> }> };
      for (const user of kubeconfig.users) {
        found.push(opensslRead(Buffer.from(user.user["client-certificate-data"]!, "base64").toString("utf8"), `/${directory}/${name}`, user.name));
      }
    }
  }
  return found;
}

function opensslRead(pem: string, filepath: string, user: string): OpensslCertificate {
  const out = execFileSync("openssl", ["x509", "-noout", "-startdate", "-enddate", "-serial", "-dateopt", "iso_8601", "-subject", "-issuer", "-nameopt", "sep_multiline,sname,utf8"], { input: pem, encoding: "utf8" });
  const field = (pattern: RegExp): string => pattern.exec(out)?.[1] ?? "";
  const commonName = (which: "subject" | "issuer"): string => new RegExp(`^${which}=\\n(?:\\s+\\w+=.*\\n)*?\\s+CN=(.*)$`, "m").exec(out)?.[1] ?? "";
  return {
    filepath,
    user,
    notBefore: Date.parse(field(/^notBefore=(.*)$/m).replace(" ", "T")) / 1000,
    notAfter: Date.parse(field(/^notAfter=(.*)$/m).replace(" ", "T")) / 1000,
    serialDecimal: BigInt(`0x${field(/^serial=(.*)$/m)}`).toString(10),
    subjectCN: commonName("subject"),
    issuerCN: commonName("issuer"),
  };
}
