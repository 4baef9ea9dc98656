// Every certificate, key and kubeconfig of a controller as one declarative list, like
// kubeadm's certificate list: what `verify` checks is read from here, never spelled out in
// the checks. Entries name bundle assets, and where each is installed comes from the
// placement table; a certificate names the CA it chains to by that CA's entry name. The
// list is checked as a whole when it loads, so a typo is a failed test, not a silent
// fallback at run time.

import { placeAsset } from "../placement/policy.ts";

interface CertificateEntry {
  /** The name operators know it by (kubeadm's, where kubeadm has one). */
  name: string;
  /** The bundle asset of the certificate, and of its private key (the certificate must match it). */
  certificate: string;
  key?: string;
  /** The name of the CA entry it must chain to; absent for a CA. */
  ca?: string;
}

const CERTIFICATE_ENTRIES: readonly CertificateEntry[] = [
  { name: "ca", certificate: "tls/k8s/ca.crt", key: "tls/k8s/ca.key" },
  { name: "apiserver", certificate: "tls/k8s/apiserver.crt", key: "tls/k8s/apiserver.key", ca: "ca" },
  { name: "aggregation-ca", certificate: "tls/k8s/aggregation-ca.crt" },
  { name: "aggregation-client", certificate: "tls/k8s/aggregation-client.crt", key: "tls/k8s/aggregation-client.key", ca: "aggregation-ca" },
  { name: "etcd-client-ca", certificate: "tls/etcd/etcd-client-ca.crt" },
  { name: "etcd-client", certificate: "tls/etcd/etcd-client.crt", key: "tls/etcd/etcd-client.key", ca: "etcd-client-ca" },
  { name: "etcd-server-ca", certificate: "tls/etcd/server-ca.crt" },
  { name: "etcd-server", certificate: "tls/etcd/server.crt", key: "tls/etcd/server.key", ca: "etcd-server-ca" },
  { name: "etcd-peer-ca", certificate: "tls/etcd/peer-ca.crt" },
  { name: "etcd-peer", certificate: "tls/etcd/peer.crt", key: "tls/etcd/peer.key", ca: "etcd-peer-ca" },
];

/**
 * etcd's whole TLS set as Typhoon renders it (CAs, server, peer, client): etcd is a host
 * service, not a static pod, so no manifest names what it reads, and a controller bundle
 * lacking any of it is refused rather than installed (which would remove it).
 */
export const ETCD_TLS_ASSETS: readonly string[] = CERTIFICATE_ENTRIES.filter((entry) => entry.certificate.startsWith("tls/etcd/")).flatMap((entry) => (entry.key === undefined ? [entry.certificate] : [entry.certificate, entry.key]));

/** Key pairs without a certificate: the service-account token signing key. */
const KEY_PAIR_ENTRIES: ReadonlyArray<{ name: string; key: string; publicKey: string }> = [
  { name: "service-account", key: "tls/k8s/service-account.key", publicKey: "tls/k8s/service-account.pub" },
];

/** Kubeconfigs with an embedded CA (which must be the named CA) and client certificate and key. */
const KUBECONFIG_ENTRIES: ReadonlyArray<{ name: string; asset: string; ca: string }> = [
  { name: "admin.conf", asset: "auth/admin.conf", ca: "ca" },
  { name: "controller-manager.conf", asset: "auth/controller-manager.conf", ca: "ca" },
  { name: "scheduler.conf", asset: "auth/scheduler.conf", ca: "ca" },
  // The 2019 bundle's single admin kubeconfig.
  { name: "kubeconfig", asset: "auth/kubeconfig", ca: "ca" },
];

/** A certificate entry with the host paths its assets are installed as. */
export interface Certificate {
  name: string;
  path: string;
  keyPath?: string;
  /** The CA it must chain to: that entry's name and path. */
  ca?: { name: string; path: string };
}

export interface CertificateList {
  certificates: Certificate[];
  keyPairs: Array<{ name: string; keyPath: string; publicKeyPath: string }>;
  kubeconfigs: Array<{ name: string; path: string; ca: { name: string; path: string } }>;
}

/**
 * The entries on host paths, or an Error listing every problem: an asset the placement
 * table does not place, a name used twice, a CA named that is no entry or not a CA itself.
 */
export function installedCertificates(
  certificates: readonly CertificateEntry[],
  keyPairs: typeof KEY_PAIR_ENTRIES,
  kubeconfigs: typeof KUBECONFIG_ENTRIES,
): CertificateList {
  const problems: string[] = [];
  const pathOf = (asset: string): string => {
    const placement = placeAsset(asset);
    if (placement === undefined) problems.push(`${asset} has no place in the placement table`);
    return placement?.path ?? asset;
  };
  const names = new Set<string>();
  for (const { name } of [...certificates, ...keyPairs, ...kubeconfigs]) {
    if (names.has(name)) problems.push(`${name} is listed twice`);
    names.add(name);
  }
  const cas = new Map(certificates.filter((entry) => entry.ca === undefined).map((entry) => [entry.name, pathOf(entry.certificate)]));
  const caNamed = (name: string, by: string): { name: string; path: string } => {
    const path = cas.get(name);
    if (path === undefined) problems.push(`${by} names ${name} as its CA, which is not a CA of this list`);
    return { name, path: path ?? name };
  };
  const list: CertificateList = {
    certificates: certificates.map((entry) => ({
      name: entry.name,
      path: pathOf(entry.certificate),
      ...(entry.key === undefined ? {} : { keyPath: pathOf(entry.key) }),
      ...(entry.ca === undefined ? {} : { ca: caNamed(entry.ca, entry.name) }),
    })),
    keyPairs: keyPairs.map((pair) => ({ name: pair.name, keyPath: pathOf(pair.key), publicKeyPath: pathOf(pair.publicKey) })),
    kubeconfigs: kubeconfigs.map((kubeconfig) => ({ name: kubeconfig.name, path: pathOf(kubeconfig.asset), ca: caNamed(kubeconfig.ca, kubeconfig.name) })),
  };
  if (problems.length > 0) throw new Error(`the certificate list is inconsistent: ${problems.join("; ")}`);
  return list;
}

export const CERTIFICATE_LIST: CertificateList = installedCertificates(CERTIFICATE_ENTRIES, KEY_PAIR_ENTRIES, KUBECONFIG_ENTRIES);
