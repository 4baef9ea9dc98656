// Every certificate, key and kubeconfig of a controller as one declarative list, like
// kubeadm's certificate list: what `verify` checks is read from here, never spelled out in
// the checks. Paths are where the placement table installs the bundle's TLS assets.

import { PKI_DIRECTORY } from "../paths.ts";

const ETCD_DIRECTORY = "/etc/ssl/etcd/etcd";

export interface CertificateSpec {
  /** The name operators know it by (kubeadm's, where kubeadm has one). */
  name: string;
  certificate: string;
  /** Its private key; the certificate must match it. */
  key?: string;
  /** The CA certificate it must chain to; absent for a CA. */
  ca?: string;
}

export const CERTIFICATES: readonly CertificateSpec[] = [
  { name: "ca", certificate: `${PKI_DIRECTORY}/ca.crt`, key: `${PKI_DIRECTORY}/ca.key` },
  { name: "apiserver", certificate: `${PKI_DIRECTORY}/apiserver.crt`, key: `${PKI_DIRECTORY}/apiserver.key`, ca: `${PKI_DIRECTORY}/ca.crt` },
  { name: "aggregation-ca", certificate: `${PKI_DIRECTORY}/aggregation-ca.crt` },
  {
    name: "aggregation-client",
    certificate: `${PKI_DIRECTORY}/aggregation-client.crt`,
    key: `${PKI_DIRECTORY}/aggregation-client.key`,
    ca: `${PKI_DIRECTORY}/aggregation-ca.crt`,
  },
  { name: "etcd-client-ca", certificate: `${PKI_DIRECTORY}/etcd-client-ca.crt` },
  { name: "etcd-client", certificate: `${PKI_DIRECTORY}/etcd-client.crt`, key: `${PKI_DIRECTORY}/etcd-client.key`, ca: `${PKI_DIRECTORY}/etcd-client-ca.crt` },
  { name: "etcd-server-ca", certificate: `${ETCD_DIRECTORY}/server-ca.crt` },
  { name: "etcd-server", certificate: `${ETCD_DIRECTORY}/server.crt`, key: `${ETCD_DIRECTORY}/server.key`, ca: `${ETCD_DIRECTORY}/server-ca.crt` },
  { name: "etcd-peer-ca", certificate: `${ETCD_DIRECTORY}/peer-ca.crt` },
  { name: "etcd-peer", certificate: `${ETCD_DIRECTORY}/peer.crt`, key: `${ETCD_DIRECTORY}/peer.key`, ca: `${ETCD_DIRECTORY}/peer-ca.crt` },
];

/** Key pairs without a certificate: the service-account token signing key. */
export const KEY_PAIRS: ReadonlyArray<{ name: string; key: string; publicKey: string }> = [
  { name: "service-account", key: `${PKI_DIRECTORY}/service-account.key`, publicKey: `${PKI_DIRECTORY}/service-account.pub` },
];

/** Kubeconfigs with an embedded CA (which must be `ca`) and client certificate and key. */
export const KUBECONFIGS: ReadonlyArray<{ name: string; path: string; ca: string }> = [
  { name: "admin.conf", path: `${PKI_DIRECTORY}/admin.conf`, ca: `${PKI_DIRECTORY}/ca.crt` },
  { name: "controller-manager.conf", path: `${PKI_DIRECTORY}/controller-manager.conf`, ca: `${PKI_DIRECTORY}/ca.crt` },
  { name: "scheduler.conf", path: `${PKI_DIRECTORY}/scheduler.conf`, ca: `${PKI_DIRECTORY}/ca.crt` },
  // The 2019 bundle's single admin kubeconfig (auth/kubeconfig).
  { name: "kubeconfig", path: `${PKI_DIRECTORY}/kubeconfig`, ca: `${PKI_DIRECTORY}/ca.crt` },
];
