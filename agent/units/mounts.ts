// The one table of host paths the kubelet's container sees. kubelet.service renders it for
// podman, docker and rkt alike (kubelet-service.ts), so auditing the kubelet's view of the
// host means reading these rows. Each row says why the kubelet needs the path; anything the
// kubelet only reads is read-only.
//
// Every bind source exists before the container starts, on every host of the runtimes that
// mount it: it is part of the OS (/etc/machine-id, /lib/modules, /run, ...), placed by
// Ignition (/etc/kubernetes), or created by ExecStartPre (createOnHost). podman and rkt
// refuse a missing source; docker would create it, and inside sysfs it cannot. That is why
// the SELinux rows are podman's alone: Fedora CoreOS always has SELinux on, so selinuxfs is
// mounted there, while a Flatcar host booted with selinux=0 has no /sys/fs/selinux, and
// Typhoon's Flatcar and Container Linux units mount neither path.
//
// Left out on purpose: /var/lib/cni (CNI state belongs to containerd, which runs CNI since
// dockershim's removal), /var/lib/docker, /etc/ssl/certs and /usr/share/ca-certificates
// (in-tree cloud providers are gone; the kubelet trusts the CA in its kubeconfig), and
// /var/run/lock (it is /run/lock, inside /run).

import type { Runtime } from "../config/types.ts";

export interface KubeletMount {
  /** The path on the host: the bind source. */
  readonly host: string;
  /** The path inside the kubelet's container. */
  readonly container: string;
  readonly readOnly: boolean;
  /**
   * Relabel the host path with the shared container label (`z`), so that pods given files
   * from it can read them: podman only, on Fedora CoreOS, as Typhoon's unit does. docker gets
   * no `z`, as in Typhoon's Flatcar unit: the kubelet runs privileged (unconfined), which reads
   * any label, and `z` would relabel /var/lib/kubelet with every pod volume below it at each
   * start. rkt has no per-volume relabel.
   */
  readonly selinuxRelabel: boolean;
  /** The runtimes whose unit mounts it; absent: all of them. */
  readonly runtimes?: readonly Runtime[];
  /**
   * rshared: mounts the kubelet makes below the path propagate to the host, where containerd
   * hands them to pods. rprivate: they do not (and host mounts made later stay invisible).
   */
  readonly propagation: "rprivate" | "rshared";
  /**
   * ExecStartPre creates the host directory first: podman and rkt refuse a missing bind
   * source, and docker would create it silently (as root, unlabelled).
   */
  readonly createOnHost: boolean;
  readonly why: string;
}

export const KUBELET_MOUNTS: readonly KubeletMount[] = [
  {
    host: "/etc/kubernetes",
    container: "/etc/kubernetes",
    readOnly: true,
    selinuxRelabel: true,
    propagation: "rprivate",
    createOnHost: false,
    why:
      "bootstrap kubeconfig, kubelet.yaml, the client CA and the static pod manifests; read-only, so a " +
      "compromised kubelet cannot rewrite its own configuration or the control plane",
  },
  {
    host: "/etc/cni/net.d",
    container: "/etc/cni/net.d",
    readOnly: true,
    selinuxRelabel: true,
    propagation: "rprivate",
    createOnHost: true,
    why:
      "the CNI configuration the network DaemonSet writes: the kubelet checks its hostPath type " +
      "(DirectoryOrCreate); containerd, on the host, is what reads it",
  },
  {
    host: "/etc/machine-id",
    container: "/etc/machine-id",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why: "the machine ID the Node status reports",
  },
  {
    host: "/etc/resolv.conf",
    container: "/etc/resolv.conf",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why:
      "the host's resolver, so the kubelet finds the API server as the host does (rkt's fly stage1 would " +
      "leave the image's file; docker and podman would write a copy)",
  },
  {
    host: "/etc/selinux",
    container: "/etc/selinux",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: true,
    runtimes: ["podman"],
    why: "the SELinux policy configuration libselinux reads to label the volumes the kubelet mounts for pods",
  },
  {
    host: "/usr/lib/os-release",
    container: "/etc/os-release",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why: "the OS name the Node status reports (the file itself: the host's /etc/os-release is a link to it)",
  },
  {
    host: "/lib/modules",
    container: "/lib/modules",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why: "kernel modules the storage mount helpers in the image (NFS, Ceph RBD, iSCSI) load with modprobe",
  },
  {
    host: "/run",
    container: "/run",
    readOnly: false,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why:
      "containerd's CRI socket, the D-Bus and systemd sockets (systemd cgroup driver, graceful node shutdown) " +
      "and resolvConf; writable because the kubelet creates pods' hostPath files there (FileOrCreate " +
      "/run/xtables.lock) and mount(8) records its mounts in /run/mount",
  },
  {
    host: "/sys/fs/cgroup",
    container: "/sys/fs/cgroup",
    readOnly: false,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why: "the host's whole cgroup hierarchy, where the kubelet sizes pod and QoS cgroups (a container sees only its own)",
  },
  {
    host: "/sys/fs/selinux",
    container: "/sys/fs/selinux",
    readOnly: false,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    runtimes: ["podman"],
    why: "selinuxfs: libselinux learns from it whether SELinux is on, and validates contexts by writing to it",
  },
  {
    host: "/var/lib/containerd",
    container: "/var/lib/containerd",
    readOnly: true,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: true,
    why:
      "containerd's image store, whose usage the kubelet reports as imagefs and evicts on; read-only: " +
      "images are pulled and removed through the CRI socket; created first, for a kubelet started before containerd's first start",
  },
  {
    host: "/var/lib/kubelet",
    container: "/var/lib/kubelet",
    readOnly: false,
    selinuxRelabel: true,
    propagation: "rshared",
    createOnHost: true,
    why:
      "pod volumes (secrets, projected tokens, CSI) the kubelet mounts for containerd to hand to pods, hence " +
      "rshared; its own kubeconfig, rotated certificates and plugin sockets",
  },
  {
    host: "/var/log",
    container: "/var/log",
    readOnly: false,
    selinuxRelabel: false,
    propagation: "rprivate",
    createOnHost: false,
    why: "pod logs: the kubelet creates /var/log/pods for containerd to write into, rotates them and links /var/log/containers",
  },
  {
    host: "/opt/cni/bin",
    container: "/opt/cni/bin",
    readOnly: true,
    selinuxRelabel: true,
    propagation: "rprivate",
    createOnHost: true,
    why: "the CNI plugins the network DaemonSet installs: like /etc/cni/net.d, only the kubelet's hostPath type check looks here",
  },
];

/** The rows `runtime` mounts. */
export function mountsFor(runtime: Runtime): KubeletMount[] {
  return KUBELET_MOUNTS.filter((mount) => mount.runtimes?.includes(runtime) ?? true);
}
