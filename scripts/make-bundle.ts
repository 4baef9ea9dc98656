// Sample bundle generator: renders poseidon/terraform-render-bootstrap's templates
// (test/fixtures/upstream) into the asset map Terraform produces, with fresh test PKI,
// and encodes it the way Terraform does. For tests, the demo and the benchmarks.
//
//   bun scripts/make-bundle.ts -o assets [--networking cilium|flannel] [--layout 2019]

import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { makeClusterPki } from "./pki.ts";

const RESOURCES = path.resolve(import.meta.dir, "../test/fixtures/upstream/terraform-render-bootstrap/resources");

export type Networking = "cilium" | "flannel";

export interface SampleOptions {
  networking?: Networking;
  /** "2019": the December 2019 key names (auth/kubeconfig, manifests-networking/*). */
  layout?: "current" | "2019";
  /** Reuse PKI (tests generate it once); fresh PKI otherwise. */
  pki?: Map<string, string>;
  clusterName?: string;
  apiServerHost?: string;
}

/** Terraform's encoding: join("\n", [for k in sort(keys(m)) : "##### ${k}\n${m[k]}"]). */
export function terraformBundle(assets: ReadonlyMap<string, string | Uint8Array>): Buffer {
  const keys = [...assets.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [];
  keys.forEach((key, index) => {
    parts.push(Buffer.from(`${index === 0 ? "" : "\n"}##### ${key}\n`));
    const value = assets.get(key)!;
    parts.push(typeof value === "string" ? Buffer.from(value) : Buffer.from(value));
  });
  return Buffer.concat(parts);
}

/** The asset map for one controller: 44 assets with cilium, like Terraform renders today. */
export async function makeSampleAssets(options: SampleOptions = {}): Promise<Map<string, string>> {
  const clusterName = options.clusterName ?? "example";
  const apiServerHost = options.apiServerHost ?? "example.typhoon.test";
  const networking = options.networking ?? "cilium";
  const pki = options.pki ?? (await makeClusterPki({ apiServerHost }));
  const pem = (name: string): string => {
    const value = pki.get(name);
    if (value === undefined) throw new Error(`test PKI has no ${name}`);
    return value;
  };
  const base64 = (text: string): string => Buffer.from(text).toString("base64");
  const server = `https://${apiServerHost}:6443`;
  const variables: Record<string, string> = {
    name: clusterName,
    server,
    ca_cert: base64(pem("tls/k8s/ca.crt")),
    apiserver_host: apiServerHost,
    apiserver_port: "6443",
    etcd_servers: "https://node1.example.typhoon.test:2379",
    kube_apiserver_image: "quay.io/poseidon/kube-apiserver:v1.36.1",
    kube_controller_manager_image: "quay.io/poseidon/kube-controller-manager:v1.36.1",
    kube_scheduler_image: "quay.io/poseidon/kube-scheduler:v1.36.1",
    kube_proxy_image: "quay.io/poseidon/kube-proxy:v1.36.1",
    coredns_image: "registry.k8s.io/coredns/coredns:v1.12.1",
    cilium_agent_image: "quay.io/cilium/cilium:v1.17.4",
    cilium_operator_image: "quay.io/cilium/operator-generic:v1.17.4",
    flannel_image: "docker.io/flannel/flannel:v0.26.7",
    flannel_cni_image: "quay.io/poseidon/flannel-cni:v0.4.2",
    pod_cidr: "10.2.0.0/16",
    service_cidr: "10.3.0.0/16",
    cluster_dns_service_ip: "10.3.0.10",
    cluster_domain_suffix: "cluster.local",
    control_plane_replicas: "1",
    service_account_issuer: "https://kubernetes.default.svc.cluster.local",
    cloud_provider_flag: "",
    // terraform-render-bootstrap with enable_aggregation = true: indent(4, flags).
    aggregation_flags: [
      "",
      "- --proxy-client-cert-file=/etc/kubernetes/pki/aggregation-client.crt",
      "- --proxy-client-key-file=/etc/kubernetes/pki/aggregation-client.key",
      "- --requestheader-client-ca-file=/etc/kubernetes/pki/aggregation-ca.crt",
      "- --requestheader-extra-headers-prefix=X-Remote-Extra-",
      "- --requestheader-group-headers=X-Remote-Group",
      "- --requestheader-username-headers=X-Remote-User",
    ].join("\n    "),
    token_id: "abc123",
    token_secret: "0123456789abcdef",
  };
  const lists: Record<string, string[]> = { daemonset_tolerations: [] };
  const render = (template: string, extra: Record<string, string> = {}): string =>
    renderTemplate(fs.readFileSync(path.join(RESOURCES, template), "utf8"), { ...variables, ...extra }, lists);
  const kubeconfig = (client: string): string =>
    render("kubeconfig-admin", {
      kubelet_cert: base64(pem(`client/${client}.crt`)),
      kubelet_key: base64(pem(`client/${client}.key`)),
    });

  const assets = new Map<string, string>();
  for (const [name, value] of pki) {
    if (name.startsWith("tls/")) assets.set(name, value);
  }
  if (options.layout === "2019") {
    assets.set("auth/kubeconfig", kubeconfig("admin"));
  } else {
    assets.set("auth/admin.conf", kubeconfig("admin"));
    assets.set("auth/controller-manager.conf", kubeconfig("controller-manager"));
    assets.set("auth/scheduler.conf", kubeconfig("scheduler"));
  }
  const networkPrefix = options.layout === "2019" ? "manifests-networking" : "manifests/network";
  const directories: Array<[string, string]> = [
    ["static-manifests", "static-manifests"],
    ["manifests", "manifests"],
    ["coredns", "manifests/coredns"],
    [networking, networkPrefix],
  ];
  for (const [source, prefix] of directories) {
    for (const file of fs.readdirSync(path.join(RESOURCES, source)).sort()) {
      if (file.endsWith(".yaml")) assets.set(`${prefix}/${file}`, render(`${source}/${file}`));
    }
  }
  return assets;
}

/**
 * The part of Terraform's templatefile() these templates use: ${var}, the $${ escape,
 * and %{ for x in list } ... %{ endfor } blocks on lines of their own (dropped with their
 * line, as the ~ strip markers do).
 */
export function renderTemplate(template: string, variables: Record<string, string>, lists: Record<string, string[]>): string {
  const lines = template.split("\n");
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const loop = /^\s*%\{~?\s*for\s+(\w+)\s+in\s+(\w+)\s*~?\}\s*$/.exec(lines[i]!);
    if (loop === null) {
      out.push(substitute(lines[i]!, variables));
      continue;
    }
    const end = lines.findIndex((line, index) => index > i && /^\s*%\{~?\s*endfor\s*~?\}\s*$/.test(line));
    if (end < 0) throw new Error(`template: unterminated for loop at line ${i + 1}`);
    const items = lists[loop[2]!];
    if (items === undefined) throw new Error(`template: unknown list ${loop[2]}`);
    for (const item of items) {
      for (const body of lines.slice(i + 1, end)) out.push(substitute(body, { ...variables, [loop[1]!]: item }));
    }
    i = end;
  }
  return out.join("\n");
}

function substitute(line: string, variables: Record<string, string>): string {
  return line.replace(/\$?\$\{(\w+)\}/g, (match, name: string) => {
    if (match.startsWith("$$")) return match.slice(1);
    const value = variables[name];
    if (value === undefined) throw new Error(`template: no value for \${${name}}`);
    return value;
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      output: { type: "string", short: "o" },
      networking: { type: "string", default: "cilium" },
      layout: { type: "string", default: "current" },
    },
  });
  if (values.networking !== "cilium" && values.networking !== "flannel") throw new Error("--networking is cilium or flannel");
  if (values.layout !== "current" && values.layout !== "2019") throw new Error("--layout is current or 2019");
  const assets = await makeSampleAssets({ networking: values.networking, layout: values.layout });
  const bundle = terraformBundle(assets);
  if (values.output === undefined) {
    process.stdout.write(bundle);
  } else {
    fs.writeFileSync(values.output, bundle, { mode: 0o600 });
    console.error(`wrote ${values.output}: ${assets.size} assets, ${bundle.length} bytes`);
  }
}
