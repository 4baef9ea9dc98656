// What kubelet.service gets from the Typhoon platform module that made the node (`platform`),
// as that module's own kubelet.service has it at Typhoon's head:
//   aws            --provider-id=aws:///<zone>/<instance id>, read from the instance metadata
//   digital-ocean  --hostname-override=<private IPv4>, read from the droplet metadata
//   bare-metal     --hostname-override=<the name Matchbox gives the machine>, which Typhoon also
//                  writes to /etc/hostname: here %H, the host name systemd knows
//   azure, google-cloud, none   nothing
// The metadata comes from the OS's metadata agent: afterburn on Fedora CoreOS (podman),
// coreos-metadata on Flatcar and Container Linux (docker, rkt). Each writes an environment
// file that the unit reads, and systemd expands the variables in ExecStart itself.

import type { Platform, Runtime } from "../config/types.ts";
import { expands, type SystemdExpansion } from "./systemd.ts";

interface MetadataAgent {
  unit: string;
  environmentFile: string;
  /** Its variables for the values a platform reads. */
  variables: Readonly<Record<"awsZone" | "awsInstanceId" | "digitalOceanPrivateIPv4", string>>;
}

const METADATA_AGENTS: Readonly<Record<"afterburn" | "coreos-metadata", MetadataAgent>> = {
  afterburn: {
    unit: "afterburn.service",
    environmentFile: "/run/metadata/afterburn",
    variables: {
      awsZone: "AFTERBURN_AWS_AVAILABILITY_ZONE",
      awsInstanceId: "AFTERBURN_AWS_INSTANCE_ID",
      digitalOceanPrivateIPv4: "AFTERBURN_DIGITALOCEAN_IPV4_PRIVATE_0",
    },
  },
  "coreos-metadata": {
    unit: "coreos-metadata.service",
    environmentFile: "/run/metadata/coreos",
    variables: {
      awsZone: "COREOS_EC2_AVAILABILITY_ZONE",
      awsInstanceId: "COREOS_EC2_INSTANCE_ID",
      digitalOceanPrivateIPv4: "COREOS_DIGITALOCEAN_IPV4_PRIVATE_0",
    },
  },
};

const METADATA_AGENT_OF: Readonly<Record<Runtime, MetadataAgent>> = {
  podman: METADATA_AGENTS.afterburn,
  docker: METADATA_AGENTS["coreos-metadata"],
  rkt: METADATA_AGENTS["coreos-metadata"],
};

interface PlatformRecipe {
  /** Reads the metadata agent's environment file: Requires= and After= it. */
  readsMetadata: boolean;
  kubeletFlags: (variables: MetadataAgent["variables"]) => SystemdExpansion[];
}

const PLATFORMS: Readonly<Record<Platform, PlatformRecipe>> = {
  none: { readsMetadata: false, kubeletFlags: () => [] },
  aws: {
    readsMetadata: true,
    kubeletFlags: (v) => [expands(`--provider-id=aws:///\${${v.awsZone}}/\${${v.awsInstanceId}}`)],
  },
  azure: { readsMetadata: false, kubeletFlags: () => [] },
  "bare-metal": { readsMetadata: false, kubeletFlags: () => [expands("--hostname-override=%H")] },
  "digital-ocean": {
    readsMetadata: true,
    kubeletFlags: (v) => [expands(`--hostname-override=\${${v.digitalOceanPrivateIPv4}}`)],
  },
  "google-cloud": { readsMetadata: false, kubeletFlags: () => [] },
};

interface PlatformUnitParts {
  unitLines: string[];
  serviceLines: string[];
  kubeletFlags: SystemdExpansion[];
}

export function platformUnitParts(platform: Platform, runtime: Runtime): PlatformUnitParts {
  const recipe = PLATFORMS[platform];
  const agent = METADATA_AGENT_OF[runtime];
  return {
    unitLines: recipe.readsMetadata ? [`Requires=${agent.unit}`, `After=${agent.unit}`] : [],
    serviceLines: recipe.readsMetadata ? [`EnvironmentFile=${agent.environmentFile}`] : [],
    kubeletFlags: recipe.kubeletFlags(agent.variables),
  };
}
