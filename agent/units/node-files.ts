// What apply needs for the kubelet on every node, controller or worker: the runtime, and the
// files to write, from one entry point so the transaction installs exactly what `render` prints.

import type { AgentConfig, Runtime } from "../config/types.ts";
import { KUBELET_CONFIG_PATH, renderKubeletConfig } from "./kubelet-config.ts";
import { KUBELET_SERVICE_PATH, renderKubeletService } from "./kubelet-service.ts";

import { resolveRuntime } from "./runtime.ts";

export { resolveRuntime, type ResolvedRuntime } from "./runtime.ts";

interface NodeFile {
  /** Absolute host path; apply places it below --root. */
  path: string;
  content: string;
  /** Owner root; neither file holds a secret. */
  mode: number;
}

/** Owner root, readable by all: neither file holds a secret. */
export const NODE_FILE_MODE = 0o644;

/** What renderNodeFiles writes, by host path: the files a running kubelet reads only when it starts. */
export const NODE_FILE_PATHS: readonly string[] = [KUBELET_SERVICE_PATH, KUBELET_CONFIG_PATH];

/** `config` as loadConfig returns it (validated); `runtime` as resolveRuntime resolves it. */
export function renderNodeFiles(config: AgentConfig, runtime: Runtime): NodeFile[] {
  return [
    { path: KUBELET_SERVICE_PATH, content: renderKubeletService(config, runtime), mode: NODE_FILE_MODE },
    { path: KUBELET_CONFIG_PATH, content: renderKubeletConfig(config), mode: NODE_FILE_MODE },
  ];
}

/** The runtime for the host at `root` and its node files, named by file as apply reports them. */
export function nodeFilesFor(config: AgentConfig, root: string): { runtime: Runtime; rendered: Array<NodeFile & { source: string }> } {
  const { runtime } = resolveRuntime(config.runtime, root);
  const rendered = renderNodeFiles(config, runtime).map((file) => ({ ...file, source: file.path.slice(file.path.lastIndexOf("/") + 1) }));
  return { runtime, rendered };
}
