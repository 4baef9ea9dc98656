// A controller's etcd in the boot: Debian's etcd (in the root, cache.ts) standing in for
// Typhoon's etcd-member.service, which runs the same etcd in a container as the etcd user
// with /etc/ssl/etcd mounted at /etc/ssl/certs and Typhoon's etcd.env. Here it reads the
// certificates where typhoon-agent installed them, on loopback, and a check reaches it as the
// kube-apiserver's uid with the installed etcd-client files. Both uids come from what the
// agent derives them from: the etcd user from the root's passwd files (Accounts, as apply
// resolves it), the apiserver's uid from the bundle's static pods (analyzeStaticPods).
// finish.sh starts the check once the kubelet is up; the boot fails when etcd cannot start
// from the installed files or the check cannot reach it.

import * as fs from "node:fs";
import * as path from "node:path";
import { Accounts } from "../../agent/hostfs/accounts.ts";
import { HostRoot } from "../../agent/hostfs/host-root.ts";
import { analyzeStaticPods } from "../../agent/placement/static-pods.ts";

export const ETCD_UNIT = "etcd-member.service";
export const ETCD_CHECK_UNIT = "boot-test-etcd-check.service";
const ETCD_TLS = "/etc/ssl/etcd/etcd";
const PKI = "/etc/kubernetes/pki";
const CLIENT_URL = "https://127.0.0.1:2379";
const PEER_URL = "https://127.0.0.1:2380";

function etcdUnit(etcd: { uid: number; gid: number }): string {
  const environment = {
    ETCD_NAME: "etcd0",
    ETCD_DATA_DIR: "/var/lib/etcd",
    ETCD_ADVERTISE_CLIENT_URLS: CLIENT_URL,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: PEER_URL,
    ETCD_LISTEN_CLIENT_URLS: CLIENT_URL,
    ETCD_LISTEN_PEER_URLS: PEER_URL,
    ETCD_INITIAL_CLUSTER: `etcd0=${PEER_URL}`,
    ETCD_STRICT_RECONFIG_CHECK: "true",
    ETCD_TRUSTED_CA_FILE: `${ETCD_TLS}/server-ca.crt`,
    ETCD_CERT_FILE: `${ETCD_TLS}/server.crt`,
    ETCD_KEY_FILE: `${ETCD_TLS}/server.key`,
    ETCD_CLIENT_CERT_AUTH: "true",
    ETCD_PEER_TRUSTED_CA_FILE: `${ETCD_TLS}/peer-ca.crt`,
    ETCD_PEER_CERT_FILE: `${ETCD_TLS}/peer.crt`,
    ETCD_PEER_KEY_FILE: `${ETCD_TLS}/peer.key`,
    ETCD_PEER_CLIENT_CERT_AUTH: "true",
  };
  return `# Boot test harness: Debian's etcd standing in for Typhoon's etcd-member.service, with
# Typhoon's etcd.env on loopback and the files where typhoon-agent installed them. Wanted by
# typhoon-agent.service and ordered after it; skipped until an apply placed the server key.
[Unit]
Description=Boot test: etcd from the certificates typhoon-agent installed
After=typhoon-agent.service
ConditionPathExists=${ETCD_TLS}/server.key

[Service]
Type=notify
${Object.entries(environment).map(([name, value]) => `Environment=${name}=${value}`).join("\n")}
# As the etcd user of /usr/lib/passwd, by number, as Flatcar's etcd-member runs its container
# (--user 232:232): systemd's User= needs NSS, and Debian's does not read that file.
ExecStartPre=/usr/bin/install -d -o ${etcd.uid} -g ${etcd.gid} -m 0700 /var/lib/etcd
ExecStart=/usr/bin/setpriv --reuid=${etcd.uid} --regid=${etcd.gid} --clear-groups /usr/bin/etcd
TimeoutStartSec=180
`;
}

function checkUnit(apiserver: { uid: number; gid: number }): string {
  const etcdctl = `/usr/bin/etcdctl --endpoints=${CLIENT_URL} --cacert=${PKI}/etcd-client-ca.crt --cert=${PKI}/etcd-client.crt --key=${PKI}/etcd-client.key`;
  return `# Boot test harness: etcd reached as the kube-apiserver's uid with the installed client files.
[Unit]
Description=Boot test: write and read a key in etcd as the kube-apiserver
Requires=${ETCD_UNIT}
After=${ETCD_UNIT}

[Service]
Type=oneshot
User=${apiserver.uid}
Group=${apiserver.gid}
Environment=ETCDCTL_API=3
ExecStart=${etcdctl} put /registry/typhoon-boot-test reached-by-the-apiserver-uid
ExecStart=/bin/sh -c '${etcdctl} get --print-value-only /registry/typhoon-boot-test | grep -qx reached-by-the-apiserver-uid'
`;
}

/** Installs the two units in a controller's root; `assets` is the bundle the boot applies. */
export function installEtcd(root: string, assets: ReadonlyMap<string, string>): void {
  const etcd = new Accounts(new HostRoot(root)).user("etcd");
  const pods = [...assets].filter(([name]) => name.startsWith("static-manifests/")).map(([asset, content]) => ({ asset, content: Buffer.from(content) }));
  const reader = analyzeStaticPods(pods).readers.get(`${PKI}/etcd-client.key`);
  if (reader === undefined || !reader.pods.includes("static-manifests/kube-apiserver.yaml")) throw new Error("the kube-apiserver pod reads no etcd-client.key");
  const units = path.join(root, "etc/systemd/system");
  fs.writeFileSync(path.join(units, ETCD_UNIT), etcdUnit(etcd));
  fs.writeFileSync(path.join(units, ETCD_CHECK_UNIT), checkUnit(reader));
  fs.mkdirSync(path.join(units, "typhoon-agent.service.wants"), { recursive: true });
  fs.symlinkSync(`/etc/systemd/system/${ETCD_UNIT}`, path.join(units, "typhoon-agent.service.wants", ETCD_UNIT));
}
