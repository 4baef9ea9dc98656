// The kubelet release the node runs, and what that release is told: which KubeletConfiguration
// fields go into kubelet.yaml and which settings must become flags (kubelet-versions.ts says
// which release accepts what). The release comes from the image tag (quay.io/poseidon/kubelet:
// v1.36.1 is 1.36); an image pinned by digest alone says it in `kubelet_version`.

import { ConfigError } from "../errors.ts";
import type { AgentConfig } from "../config/types.ts";
import {
  FIELDS_WITHOUT_FLAG,
  KUBELET_CONFIG_FIELDS,
  OLDEST_SUPPORTED_MINOR,
  REMOTE_RUNTIME_FLAG_BEFORE,
  accepts,
  fieldPaths,
  type KubeletMinor,
} from "./kubelet-versions.ts";

export interface KubeletRelease {
  minor: KubeletMinor;
  /** As the operator wrote it: "v1.36.1", "1.35". */
  text: string;
  /** The key it came from, which an error about it names. */
  key: "kubelet_image" | "kubelet_version";
}

/** A release tag as Kubernetes images are tagged: v1.36.1, v1.36.1-rc.0, 1.36. */
const VERSION_TAG = /^v?1\.(0|[1-9]\d{0,2})(?:\.\d+)?(?:[-+_][\w.-]*)?$/;

/** The tag of an image reference, if it has one: after the last `:` that follows the last `/`. */
function imageTag(image: string): string | undefined {
  const withoutDigest = image.split("@")[0]!;
  const lastComponent = withoutDigest.slice(withoutDigest.lastIndexOf("/") + 1);
  const colon = lastComponent.lastIndexOf(":");
  return colon === -1 ? undefined : lastComponent.slice(colon + 1);
}

function minorOf(version: string): KubeletMinor | undefined {
  const match = VERSION_TAG.exec(version);
  return match === null ? undefined : Number(match[1]);
}

export function kubeletRelease(config: Pick<AgentConfig, "kubelet_image" | "kubelet_version">): KubeletRelease {
  const tag = imageTag(config.kubelet_image);
  const tagMinor = tag === undefined ? undefined : minorOf(tag);
  const configured = config.kubelet_version;
  if (configured === undefined) {
    if (tag === undefined || tagMinor === undefined) {
      const why = tag === undefined ? "has no tag" : `has the tag ${JSON.stringify(tag)}, which is not a version`;
      throw new ConfigError(
        `needed: kubelet_image ${config.kubelet_image} ${why}, so it does not say which kubelet release it is, and what kubelet.yaml may hold depends on it`,
        "kubelet_version",
        "set kubelet_version to the image's Kubernetes version (like 1.36.1) in /etc/typhoon/agent.yaml or with --kubelet-version",
      );
    }
    return checkedRelease({ minor: tagMinor, text: tag, key: "kubelet_image" });
  }
  const minor = minorOf(configured)!;
  if (tagMinor !== undefined && tagMinor !== minor) {
    throw new ConfigError(
      `${configured} disagrees with the tag of kubelet_image ${config.kubelet_image}`,
      "kubelet_version",
      "drop kubelet_version (the tag says the version) or correct whichever is wrong",
    );
  }
  return checkedRelease({ minor, text: configured, key: "kubelet_version" });
}

function checkedRelease(release: KubeletRelease): KubeletRelease {
  if (release.minor >= OLDEST_SUPPORTED_MINOR) return release;
  const missing = FIELDS_WITHOUT_FLAG.filter((path) => !accepts(KUBELET_CONFIG_FIELDS[path]!, release.minor));
  throw new ConfigError(
    `kubelet ${release.text} is older than 1.${OLDEST_SUPPORTED_MINOR}, the oldest the agent configures: it does not accept ` +
      `${missing.join(" and ")} in kubelet.yaml, and no flag says the same`,
    release.key,
    `use a kubelet image of 1.${OLDEST_SUPPORTED_MINOR} or newer, like quay.io/poseidon/kubelet:v1.36.1`,
  );
}

export interface KubeletSettings {
  release: KubeletRelease;
  /** kubelet.yaml: only fields the release accepts. */
  configuration: Record<string, unknown>;
  /** The flags standing in for fields the release lacks (and what an old release needs besides). */
  flags: string[];
}

/**
 * `configuration` (every field the agent would like to set) cut to what `release` accepts:
 * a field it lacks moves to its flag, or is refused when it has none.
 */
export function fitToRelease(configuration: Readonly<Record<string, unknown>>, release: KubeletRelease): KubeletSettings {
  const fitted: Record<string, unknown> = {};
  const flags: string[] = release.minor < REMOTE_RUNTIME_FLAG_BEFORE ? ["--container-runtime=remote"] : [];
  for (const [name, value] of Object.entries(configuration)) {
    const rows = fieldPaths({ [name]: value }).map((path) => [path, KUBELET_CONFIG_FIELDS[path]] as const);
    const unknown = rows.find(([, row]) => row === undefined);
    if (unknown !== undefined) throw new Error(`internal: kubelet.yaml field ${unknown[0]} has no row in kubelet-versions.ts`);
    const lacking = rows.find(([, row]) => !accepts(row!, release.minor));
    if (lacking === undefined) {
      fitted[name] = value;
      continue;
    }
    const [path, row] = lacking;
    if (row!.flag === undefined) {
      throw new ConfigError(`kubelet ${release.text} does not accept ${path} in kubelet.yaml, and no flag says the same`, release.key);
    }
    flags.push(...row!.flag(value));
  }
  return { release, configuration: fitted, flags };
}
