// /etc/systemd/system/kubelet.service: the kubelet in a privileged container, started by
// an explicit inline ExecStart (no kubelet-wrapper script), with the host mounts of
// mounts.ts rendered for the node's container runtime. What differs between runtimes is
// only how each one is told the same thing (RUNTIMES below); what differs between Typhoon's
// platforms is in platforms.ts, and between kubelet releases in kubelet-release.ts.

import type { AgentConfig, Runtime } from "../config/types.ts";
import { nodeLabels } from "../config/labels.ts";
import { ConfigError } from "../errors.ts";
import { STATIC_POD_DIRECTORY } from "../paths.ts";
import { mountsFor, type KubeletMount } from "./mounts.ts";
import { CLIENT_CA_FILE, KUBELET_CONFIG_PATH, RENDERED_HEADER, VOLUME_PLUGIN_DIR, kubeletSettings } from "./kubelet-config.ts";
import type { KubeletRelease } from "./kubelet-release.ts";
import { FAILS_ON_CGROUP_V1_SINCE } from "./kubelet-versions.ts";
import { platformUnitParts } from "./platforms.ts";
import { execDirective, renderUnit, type CommandLines, type Word } from "./systemd.ts";

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
  /** Why this runtime cannot run `release`, if it cannot. */
  readonly cannotRun?: (release: KubeletRelease) => string | undefined;
}

const PRIVILEGED_HOST_NAMESPACES: CommandLines = [["--privileged"], ["--pid", "host"], ["--network", "host"]];

/** podman and docker share the -v syntax: host:container[:options]; only podman relabels (mounts.ts). */
function bindVolume(relabel: boolean): (mount: KubeletMount) => CommandLines {
  return (mount) => {
    const options = [
      ...(mount.readOnly ? ["ro"] : []),
      ...(mount.propagation === "rshared" ? ["rshared"] : []),
      ...(relabel && mount.selinuxRelabel ? ["z"] : []),
    ];
    return [["--volume", `${mount.host}:${mount.container}${options.length > 0 ? `:${options.join(",")}` : ""}`]];
  };
}

/**
 * rkt runs only on Container Linux, which is cgroup v1 only and out of support since May
 * 2020; from 1.35 the kubelet refuses cgroup v1 (failCgroupV1 defaults to true).
 */
function rktCannotRun(release: KubeletRelease): string | undefined {
  if (release.minor < FAILS_ON_CGROUP_V1_SINCE) return undefined;
  return (
    `rkt cannot run kubelet ${release.text}: rkt runs only on Container Linux, whose cgroups are v1 only, and from ` +
    `1.${FAILS_ON_CGROUP_V1_SINCE} the kubelet refuses to start on a cgroup v1 host (failCgroupV1); Container Linux ` +
    `reached its end of life in May 2020, and rkt cannot fetch the multi-architecture images quay.io/poseidon/kubelet publishes`
  );
}

const RKT_HINT =
  "move the node to Flatcar Linux (runtime docker) or Fedora CoreOS (runtime podman); a Container Linux node can " +
  `only run a single-architecture kubelet image of 1.${FAILS_ON_CGROUP_V1_SINCE - 1} or older, named in kubelet_image`;

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
    mount: bindVolume(true),
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
    mount: bindVolume(false),
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
    cannotRun: rktCannotRun,
  },
};

/** rkt names each volume; the container path makes a readable, unique name. */
function rktVolumeName(mount: KubeletMount): string {
  return mount.container.slice(1).replaceAll(/[^a-z0-9]+/g, "-");
}

/**
 * The kubelet's command line: what KubeletConfiguration has no field for, what the node's
 * kubelet release does not accept in kubelet.yaml yet, and what the platform adds.
 */
export function kubeletFlags(config: AgentConfig, runtime: Runtime): Word[] {
  return [
    `--bootstrap-kubeconfig=${BOOTSTRAP_KUBECONFIG}`,
    ...(config.cloud_provider === undefined ? [] : [`--cloud-provider=${config.cloud_provider}`]),
    `--config=${KUBELET_CONFIG_PATH}`,
    `--kubeconfig=${KUBELET_KUBECONFIG}`,
    // One flag per label: the kubelet merges repeated --node-labels.
    ...nodeLabels(config).map((label) => `--node-labels=${label}`),
    ...kubeletSettings(config).flags,
    ...platformUnitParts(config.platform, runtime).kubeletFlags,
  ];
}

/**
 * Directories that must exist before the container starts: bind sources (createOnHost),
 * and the static pod and volume plugin directories, which the kubelet cannot create itself
 * where /etc/kubernetes is read-only.
 */
function hostDirectoriesToCreate(runtime: Runtime): string[] {
  const directories = [...mountsFor(runtime).filter((mount) => mount.createOnHost).map((mount) => mount.host), STATIC_POD_DIRECTORY, VOLUME_PLUGIN_DIR];
  return [...new Set(directories)].sort();
}

/**
 * kubelet.yaml names the client CA file; the cluster CA arrives only inside the bootstrap
 * kubeconfig, so it is extracted before each start, into a temporary file renamed over
 * ca.crt once it holds something: a kubeconfig without the CA fails the start and leaves
 * the previous ca.crt as it was (a redirect into ca.crt would empty it first).
 */
const CLIENT_CA_TEMPORARY = `${CLIENT_CA_FILE}.typhoon-tmp`;
export const EXTRACT_CLIENT_CA =
  `set -euo pipefail; trap 'rm -f ${CLIENT_CA_TEMPORARY}' EXIT; ` +
  `grep certificate-authority-data ${BOOTSTRAP_KUBECONFIG} | awk '{print $2}' | base64 -d > ${CLIENT_CA_TEMPORARY}; ` +
  `test -s ${CLIENT_CA_TEMPORARY}; mv -f ${CLIENT_CA_TEMPORARY} ${CLIENT_CA_FILE}`;

/**
 * containerd serves the CRI socket the kubelet talks to and owns /var/lib/containerd: the
 * kubelet starts after it (Typhoon enables containerd.service on every OS it runs).
 */
const CONTAINERD_ORDERING = ["Wants=containerd.service", "After=containerd.service"];

export function renderKubeletService(config: AgentConfig, runtime: Runtime): string {
  const recipe = RUNTIMES[runtime];
  const settings = kubeletSettings(config);
  const refusal = recipe.cannotRun?.(settings.release);
  if (refusal !== undefined) throw new ConfigError(refusal, "runtime", RKT_HINT);
  const platform = platformUnitParts(config.platform, runtime);
  const execStart: CommandLines = [
    ...recipe.run,
    ...mountsFor(runtime).flatMap((mount) => recipe.mount(mount)),
    ...recipe.image(config.kubelet_image),
    ...kubeletFlags(config, runtime).map((flag) => [flag]),
  ];
  return renderUnit(RENDERED_HEADER, [
    {
      name: "Unit",
      lines: [
        `Description=Kubelet (${recipe.name} container)`,
        "Documentation=https://typhoon.psdn.io",
        ...recipe.unitLines,
        ...CONTAINERD_ORDERING,
        ...platform.unitLines,
        // NFS volumes need rpc.statd for file locking.
        "Wants=rpc-statd.service",
      ],
    },
    {
      name: "Service",
      lines: [
        ...platform.serviceLines,
        execDirective("ExecStartPre", [["/bin/mkdir", "-p", ...hostDirectoriesToCreate(runtime)]]),
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
