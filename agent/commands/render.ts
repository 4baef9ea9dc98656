import type { Argv, CommandModule } from "yargs";
import { configOptions, flagsFromArgs, type ConfigArgs } from "../config/options.ts";
import { exitCodeHelp } from "../errors.ts";
import { print, say } from "../report/console.ts";

const TARGETS = ["kubelet", "config", "agent-config"] as const;

interface RenderArgs extends ConfigArgs {
  what: (typeof TARGETS)[number];
}

export const renderCommand: CommandModule<object, RenderArgs> = {
  command: "render <what>",
  describe: "Print kubelet.service, kubelet.yaml or the effective agent configuration, as apply would write them",
  builder: (yargs) =>
    configOptions(
      (yargs as Argv<object>).positional("what", {
        choices: TARGETS,
        demandOption: true,
        describe:
          "kubelet: /etc/systemd/system/kubelet.service; config: /etc/kubernetes/kubelet.yaml; " +
          "agent-config: the configuration after defaults, file and flags, with where each value came from",
      }),
    )
      .example("$0 render kubelet --runtime podman --role worker", "a Fedora CoreOS worker's kubelet.service")
      .example("$0 render kubelet --root /mnt/node", "runtime auto: chosen from /mnt/node/etc/os-release")
      .example("$0 render kubelet --runtime docker --platform aws", "a Flatcar node on AWS: --provider-id from coreos-metadata")
      .example("$0 render config --kubelet-image quay.io/poseidon/kubelet:v1.26.4", "kubelet.yaml for an older kubelet: only the fields it knows")
      .example("$0 render config --cluster-dns-service-ip fd00::a", "kubelet.yaml for an IPv6 service network")
      .example("$0 render agent-config --config ./agent.yaml", "check a configuration file before shipping it")
      .epilogue(exitCodeHelp()) as Argv<RenderArgs>,
  handler: async (args) => {
    // Loaded on demand: the YAML library is start-up time every other command would pay.
    const { loadConfig } = await import("../config/load.ts");
    const loaded = loadConfig({ root: args.root, configPath: args.config, flags: flagsFromArgs(args) });
    switch (args.what) {
      case "kubelet": {
        const { resolveRuntime } = await import("../units/runtime.ts");
        const { renderKubeletService } = await import("../units/kubelet-service.ts");
        const { runtime, reason } = resolveRuntime(loaded.config.runtime, args.root);
        if (loaded.config.runtime === "auto") say(`runtime auto: ${runtime}, for ${reason}`);
        print(renderKubeletService(loaded.config, runtime));
        return;
      }
      case "config": {
        const { renderKubeletConfig } = await import("../units/kubelet-config.ts");
        print(renderKubeletConfig(loaded.config));
        return;
      }
      case "agent-config": {
        const { renderEffectiveConfig } = await import("../config/effective.ts");
        print(renderEffectiveConfig(loaded));
        return;
      }
    }
  },
};
