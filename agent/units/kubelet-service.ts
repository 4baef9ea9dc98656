// /etc/systemd/system/kubelet.service: the kubelet in a privileged container, started by
// an explicit inline ExecStart (no kubelet-wrapper script), with the host mounts of
// mounts.ts rendered for the node's container runtime. What differs between runtimes is
// only how each one is told the same thing (RUNTIMES below).
//
// Left to the platform, not rendered here: upstream's cloud-specific `--provider-id` (and
// the afterburn / coreos-metadata unit and EnvironmentFile it reads on AWS). It depends on
// the platform Typhoon module, not on the node's configuration, and belongs in a drop-in.

import type { AgentConfig, Runtime } from "../config/types.ts";
import { nodeLabels } from "../config/labels.ts";
import { KUBELET_MOUNTS, type KubeletMount } from "./mounts.ts";
import { STATIC_POD_DIRECTORY } from "../paths.ts";
import { CLIENT_CA_FILE, KUBELET_CONFIG_PATH, RENDERED_HEADER, VOLUME_PLUGIN_DIR } from "./kubelet-config.ts";
import { execDirective, renderUnit, type CommandLines } from "./systemd.ts";

export const KUBELET_SERVICE_PATH = "/etc/systemd/system/kubelet.service";
/** Placed by Ignition; the kubelet trades it for its own client certificate. */
const BOOTSTRAP_KUBECONFIG = "/etc/kubernetes/kubeconfig";
/** Written by the kubelet after TLS bootstrap, below its writable state directory. */
const KUBELET_KUBECONFIG = "/var/lib/kubelet/kubeconfig";
const CONTAINER_NAME = "kubelet";

interface RuntimeRecipe {
  /** For the unit's Description. */
  readonly name: string;
  /** [Unit] ordering and requirements beyond the common ones. */
  readonly unitLines: readonly string[];
  /** [Service] settings beyond the common ones. */
  readonly serviceLines: readonly string[];
  /** Clears a container an unclean stop left behind, so the name is free (failure ignored). */
  readonly removeLeftover?: readonly string[];
  /** The command and its options, up to the mounts. */
  readonly run: CommandLines;
  readonly mount: (mount: KubeletMount) => CommandLines;
  /** The image, and what separates it from the kubelet's own flags. */
  readonly image: (image: string) => CommandLines;
  /**
   * Stops the container itself (failure ignored): a podman or docker container lives
   * outside the unit's cgroup, so systemd stopping the client alone could leave it running.
   */
  readonly stop: readonly string[];
}

const PRIVILEGED_HOST_NAMESPACES: CommandLines = [["--privileged"], ["--pid", "host"], ["--network", "host"]];

/** podman and docker share the -v syntax: host:container[:options]. */
function bindVolume(mount: KubeletMount): CommandLines {
  const options = [
    ...(mount.readOnly ? ["ro"] : []),
    ...(mount.propagation === "rshared" ? ["rshared"] : []),
    ...(mount.selinuxRelabel ? ["z"] : []),
  ];
  return [["--volume", `${mount.host}:${mount.container}${options.length > 0 ? `:${options.join(",")}` : ""}`]];
}

/**
 * `--log-driver none` (podman and docker): systemd already puts the attached output in the
 * journal; a log driver would keep a second, unrotated copy (k8s-file, json-file) or send
 * every line to the journal twice (journald).
 */
const RUNTIMES: Readonly<Record<Runtime, RuntimeRecipe>> = {
  podman: {
    name: "podman",
    unitLines: [],
    // As upstream's Fedora CoreOS unit: cgroups created below the unit are left to their
    // creators (podman, the kubelet) instead of being reset by systemd.
    serviceLines: ["Delegate=yes"],
    // --replace removes a container an unclean stop left under the same name.
    run: [["/usr/bin/podman", "run", "--name", CONTAINER_NAME], ["--replace"], ["--rm"], ["--log-driver", "none"], ...PRIVILEGED_HOST_NAMESPACES],
    mount: bindVolume,
    image: (image) => [[image]],
    stop: ["/usr/bin/podman", "stop", CONTAINER_NAME],
  },
  // Flatcar: one foreground `docker run --rm`, not upstream's ExecStartPre `docker run -d`
  // followed by ExecStart `docker logs -f`. Either way systemd watches a docker client
  // rather than the kubelet (moby/moby#6791), but in the foreground form the client exits
  // with the kubelet's exit status, there is no second client to race the container's
  // start, and the `docker rm --force` before it frees the name after an unclean stop,
  // where upstream's `docker run -d` would fail on the leftover container at every restart.
  docker: {
    name: "docker",
    unitLines: ["Requires=docker.service", "After=docker.service"],
    serviceLines: [],
    removeLeftover: ["/usr/bin/docker", "rm", "--force", CONTAINER_NAME],
    run: [["/usr/bin/docker", "run", "--name", CONTAINER_NAME], ["--rm"], ["--log-driver", "none"], ...PRIVILEGED_HOST_NAMESPACES],
    mount: bindVolume,
    image: (image) => [[image]],
    stop: ["/usr/bin/docker", "stop", CONTAINER_NAME],
  },
  // Container Linux: rkt with the fly stage1, which only chroots, so the kubelet shares the
  // host's namespaces, and volume sources are made rshared (fly has no per-volume
  // propagation). docker and podman bind recursively (rbind); rkt does not unless told, and
  // a plain bind of /sys/fs/cgroup would hide the cgroup v1 controllers mounted below it.
  rkt: {
    name: "rkt",
    unitLines: [],
    serviceLines: [],
    removeLeftover: ["/usr/bin/rkt", "rm", "--uuid-file=/var/cache/kubelet-pod.uuid"],
    run: [
      ["/usr/bin/rkt", "run"],
      ["--uuid-file-save=/var/cache/kubelet-pod.uuid"],
      ["--stage1-from-dir=stage1-fly.aci"],
      ["--hosts-entry=host"],
      // docker:// images carry no rkt signature.
      ["--insecure-options=image"],
    ],
    mount: (mount) => {
      const volume = rktVolumeName(mount);
      const options = [`kind=host`, `source=${mount.host}`, ...(mount.readOnly ? ["readOnly=true"] : []), "recursive=true"];
      return [
        ["--volume", `${volume},${options.join(",")}`],
        ["--mount", `volume=${volume},target=${mount.container}`],
      ];
    },
    // The image's entrypoint, named because rkt's docker2aci conversion does not promise it.
    image: (image) => [[`docker://${image}`], ["--exec=/usr/local/bin/kubelet", "--"]],
    stop: ["/usr/bin/rkt", "stop", "--uuid-file=/var/cache/kubelet-pod.uuid"],
  },
};

/** rkt names each volume; the container path makes a readable, unique name. */
function rktVolumeName(mount: KubeletMount): string {
  return mount.container.slice(1).replaceAll(/[^a-z0-9]+/g, "-");
}

/** The kubelet's command line: only what KubeletConfiguration has no field for. */
export function kubeletFlags(config: AgentConfig): string[] {
  return [
    `--bootstrap-kubeconfig=${BOOTSTRAP_KUBECONFIG}`,
    ...(config.cloud_provider === undefined ? [] : [`--cloud-provider=${config.cloud_provider}`]),
    `--config=${KUBELET_CONFIG_PATH}`,
    `--kubeconfig=${KUBELET_KUBECONFIG}`,
    // One flag per label: the kubelet merges repeated --node-labels.
    ...nodeLabels(config).map((label) => `--node-labels=${label}`),
  ];
}

/**
 * Directories that must exist before the container starts: bind sources (createOnHost),
 * and the static pod and volume plugin directories, which the kubelet cannot create itself
 * where /etc/kubernetes is read-only.
 */
function hostDirectoriesToCreate(): string[] {
  const directories = [...KUBELET_MOUNTS.filter((mount) => mount.createOnHost).map((mount) => mount.host), STATIC_POD_DIRECTORY, VOLUME_PLUGIN_DIR];
  return [...new Set(directories)].sort();
}

/**
 * kubelet.yaml names the client CA file; the cluster CA arrives only inside the bootstrap
 * kubeconfig, so it is extracted before each start (pipefail: a kubeconfig without the CA
 * fails the start instead of leaving an empty ca.crt).
 */
const EXTRACT_CLIENT_CA =
  `set -o pipefail; grep certificate-authority-data ${BOOTSTRAP_KUBECONFIG} | awk '{print $2}' | base64 -d > ${CLIENT_CA_FILE}`;

export function renderKubeletService(config: AgentConfig, runtime: Runtime): string {
  const recipe = RUNTIMES[runtime];
  const execStart: CommandLines = [
    ...recipe.run,
    ...KUBELET_MOUNTS.flatMap((mount) => recipe.mount(mount)),
    ...recipe.image(config.kubelet_image),
    ...kubeletFlags(config).map((flag) => [flag]),
  ];
  return renderUnit(RENDERED_HEADER, [
    {
      name: "Unit",
      lines: [
        `Description=Kubelet (${recipe.name} container)`,
        "Documentation=https://typhoon.psdn.io",
        ...recipe.unitLines,
        // NFS volumes need rpc.statd for file locking.
        "Wants=rpc-statd.service",
      ],
    },
    {
      name: "Service",
      lines: [
        execDirective("ExecStartPre", [["/bin/mkdir", "-p", ...hostDirectoriesToCreate()]]),
        execDirective("ExecStartPre", [["/usr/bin/bash", "-c", EXTRACT_CLIENT_CA]]),
        ...(recipe.removeLeftover === undefined ? [] : [execDirective("ExecStartPre", [recipe.removeLeftover], true)]),
        execDirective("ExecStart", execStart),
        execDirective("ExecStop", [recipe.stop], true),
        ...recipe.serviceLines,
        "Restart=always",
        "RestartSec=10",
      ],
    },
    { name: "Install", lines: ["WantedBy=multi-user.target"] },
  ]);
}
