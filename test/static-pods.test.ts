// The owner derivation reads static pods as the kubelet runs them: mounts (mountPath →
// hostPath, subPath, subPathExpr), $(VAR) expansion, exec probes, lifecycle hooks, init
// containers, container securityContext over the pod's. Generated pods with known readers,
// Typhoon's own pods, Kubernetes' expansion rules, and the refusals.

import * as fs from "node:fs";
import { dump, load } from "js-yaml";
import { beforeAll, describe, expect, test } from "vitest";
import { AgentError } from "../agent/errors.ts";
import { expand } from "../agent/placement/expansion.ts";
import { analyzeStaticPods, type StaticPodSource } from "../agent/placement/static-pods.ts";
import { terraformBundle } from "../scripts/make-bundle.ts";
import { runAgent } from "./helpers/agent-binary.ts";
import { makeHost, NOBODY_UID, sampleAssets } from "./helpers/host.ts";
import { PKI, randomPodCase, secretOwners, type PodCase } from "./helpers/pod-cases.ts";
import { runSeed, seededRandom } from "./helpers/random.ts";
import { snapshotIgnoringRunRecord, snapshotTree } from "./helpers/tree.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("static-pods apply tests skipped: apply chowns files to other users and needs root");
const rootTest = isRoot ? test : test.skip;

const source = (asset: string, yaml: string): StaticPodSource => ({ asset, content: Buffer.from(yaml) });
const readersOf = (sources: StaticPodSource[]): Map<string, number> =>
  new Map([...analyzeStaticPods(sources).readers].map(([file, reader]) => [file, reader.uid]));

function refusal(action: () => unknown): AgentError {
  try {
    action();
  } catch (error) {
    if (error instanceof AgentError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

type Pod = { metadata: { name: string }; spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } };

let assets: Map<string, string>;
beforeAll(async () => {
  assets = await sampleAssets();
});
const upstream = (name: string): Pod => load(assets.get(`static-manifests/${name}.yaml`)!) as Pod;
const upstreamSources = (): StaticPodSource[] =>
  [...assets].filter(([name]) => name.startsWith("static-manifests/")).map(([name, content]) => source(name, content));

describe("Kubernetes' $(VAR) expansion", () => {
  const variables = new Map([["VAR_A", "A"], ["VAR_B", "B"], ["VAR_REF", "$(VAR_A)"], ["VAR_EMPTY", ""]]);
  const cases: Array<[string, string]> = [
    ["$(VAR_A)", "A"],
    ["___$(VAR_B)___", "___B___"],
    ["$(VAR_A)-$(VAR_A)", "A-A"],
    ["$(VAR_REF)", "$(VAR_A)"], // values are not expanded again
    ["$(VAR_EMPTY)", ""],
    ["$(UNDEFINED)", "$(UNDEFINED)"], // undefined stays literal
    ["$$(VAR_A)", "$(VAR_A)"], // $$ escapes
    ["$$$(VAR_A)", "$A"],
    ["$$", "$"],
    ["$", "$"],
    ["a$", "a$"],
    ["$x", "$x"],
    ["$(VAR_A", "$(VAR_A"], // unterminated: literal
    ["$()", "$()"],
    ["$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"],
    ["no variables", "no variables"],
  ];
  for (const [input, output] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(output)}`, () => {
      expect(expand(input, (name) => variables.get(name))).toBe(output);
    });
  }
});

describe("Typhoon's own static pods", () => {
  test("every secret they read belongs to 65534, the pod-level runAsUser they all set", () => {
    for (const name of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]) {
      const pod = upstream(name);
      expect((pod.spec.securityContext as Record<string, unknown>).runAsUser, name).toBe(65534);
      expect(pod.spec.containers.every((container) => container.securityContext === undefined), name).toBe(true);
    }
    const secrets = ["apiserver.key", "etcd-client.key", "service-account.key", "aggregation-client.key", "ca.key", "controller-manager.conf", "scheduler.conf"];
    expect(readersOf(upstreamSources())).toEqual(new Map(secrets.sort().map((name) => [`${PKI}/${name}`, NOBODY_UID])));
  });

  test("the scheduler reaches only the one file it mounts; naming another pki file reaches nothing", () => {
    const scheduler = upstream("kube-scheduler");
    (scheduler.spec.containers[0]!.command as string[]).push("--client-ca-file=/etc/kubernetes/pki/ca.key");
    const analysis = analyzeStaticPods([source("static-manifests/kube-scheduler.yaml", dump(scheduler))]);
    expect([...analysis.references.keys()]).toEqual([`${PKI}/scheduler.conf`]);
  });
});

describe("generated pods: each secret goes to the uid of the containers that reach it", () => {
  const seed = runSeed();
  test(`300 pods in 60 bundles (seed ${seed}; TEST_SEED=${seed} replays)`, () => {
    const random = seededRandom(seed);
    for (let bundle = 0; bundle < 60; bundle++) {
      const owners = secretOwners(random);
      const pods: PodCase[] = Array.from({ length: 5 }, (_, index) => randomPodCase(random, index, owners));
      const expected = new Map<string, number>();
      for (const pod of pods) for (const [file, uid] of pod.readers) expected.set(file, uid);
      const analysis = analyzeStaticPods(pods.map((pod) => source(pod.asset, pod.yaml)));
      const story = `seed ${seed}, bundle ${bundle}:\n${pods.flatMap((pod) => pod.story).join("\n")}\n${pods.map((pod) => pod.yaml).join("---\n")}`;
      expect(new Map([...analysis.readers].map(([file, reader]) => [file, reader.uid])), story).toEqual(expected);
      expect(new Set(analysis.references.keys()), story).toEqual(new Set(pods.flatMap((pod) => [...pod.referenced])));
    }
  });

  test(`without any runAsUser, a pod that reaches a secret is refused, naming the pod and what to add (seed ${seed})`, () => {
    const random = seededRandom(seed + 1);
    let refused = 0;
    for (let index = 0; index < 200; index++) {
      const pod = randomPodCase(random, index, secretOwners(random));
      const document = load(pod.yaml) as Pod;
      delete document.spec.securityContext;
      for (const container of [...document.spec.containers, ...((document.spec.initContainers as Pod["spec"]["containers"] | undefined) ?? [])]) {
        delete container.securityContext;
      }
      const run = () => analyzeStaticPods([source(pod.asset, dump(document))]);
      if (pod.referenced.size === 0) {
        expect(run, `${pod.story.join("\n")}\n${pod.yaml}`).not.toThrow();
        continue;
      }
      const error = refusal(run);
      refused++;
      expect(error.exitCode).toBe(65);
      expect(error.message).toContain(`${pod.asset}: pod pod-${index}, container `);
      expect(error.message).toContain("sets securityContext.runAsUser");
      expect(error.hint).toContain("add securityContext.runAsUser");
    }
    expect(refused).toBeGreaterThan(50);
  });
});

describe("pods Kubernetes would not run, or whose files nobody can know: exit 65", () => {
  const variants: Array<[string, (pod: Pod) => void, RegExp]> = [
    ["a mount of a volume the pod lacks", (pod) => void (pod.spec.volumes as unknown[]).shift(), /volumeMount \/etc\/kubernetes\/pki names volume secrets, which spec.volumes lacks/],
    ["a subPath that climbs out", (pod) => void ((pod.spec.containers[0]!.volumeMounts as Array<Record<string, unknown>>)[0]!.subPath = "../pki"), /subPath "\.\.\/pki"; Kubernetes takes only a relative path/],
    [
      "a subPathExpr over the pki directory from a run-time value",
      (pod) => void ((pod.spec.containers[0]!.volumeMounts as Array<Record<string, unknown>>)[0]!.subPathExpr = "$(POD_IP)"),
      /pod kube-apiserver, container kube-apiserver: the subPathExpr of the mount at \/etc\/kubernetes\/pki uses a value only the running pod knows/,
    ],
    ["a runAsUser that is not a uid", (pod) => void ((pod.spec.securityContext as Record<string, unknown>).runAsUser = "nobody"), /securityContext.runAsUser must be a non-negative integer/],
  ];
  for (const [title, edit, message] of variants) {
    test(title, () => {
      const pod = upstream("kube-apiserver");
      edit(pod);
      const error = refusal(() => analyzeStaticPods([source("static-manifests/kube-apiserver.yaml", dump(pod))]));
      expect(error.exitCode).toBe(65);
      expect(error.message).toMatch(message);
    });
  }

  test("a subPathExpr from a run-time value elsewhere (a log directory) is no concern", () => {
    const pod = upstream("kube-apiserver");
    pod.spec.volumes = [...(pod.spec.volumes as unknown[]), { name: "logs", hostPath: { path: "/var/log/kube" } }];
    pod.spec.containers[0]!.volumeMounts = [...(pod.spec.containers[0]!.volumeMounts as unknown[]), { name: "logs", mountPath: "/logs", subPathExpr: "$(POD_IP)" }];
    expect(readersOf([source("static-manifests/kube-apiserver.yaml", dump(pod))]).get(`${PKI}/apiserver.key`)).toBe(NOBODY_UID);
  });
});

describe("through apply", () => {
  rootTest("the apiserver mounting the pki directory elsewhere, through a parent and subPath, with a container uid over the pod's: its secrets are the container uid's", async () => {
    const pod = upstream("kube-apiserver");
    const container = pod.spec.containers[0]!;
    container.command = (container.command as string[]).map((argument) => argument.replaceAll("/etc/kubernetes/pki/", "/srv/kubernetes/"));
    container.volumeMounts = [{ name: "secrets", mountPath: "/srv/kubernetes", subPath: "pki", readOnly: true }];
    pod.spec.volumes = [{ name: "secrets", hostPath: { path: "/etc/kubernetes" } }];
    // the controller-manager shares service-account.key as 65534: a pod-level 4321 that won would be refused
    pod.spec.securityContext = { runAsUser: 4321 };
    container.securityContext = { runAsUser: NOBODY_UID };
    const root = makeHost();
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(new Map(assets).set("static-manifests/kube-apiserver.yaml", dump(pod))));
    const result = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
    expect(result.exitCode, result.stderr as string).toBe(0);
    // read only through /srv/kubernetes: had the mount not been followed, they would be root's 0600
    for (const name of ["apiserver.key", "etcd-client.key", "aggregation-client.key"]) {
      expect({ name, uid: fs.statSync(`${root}${PKI}/${name}`).uid, mode: fs.statSync(`${root}${PKI}/${name}`).mode & 0o777 }).toEqual({ name, uid: NOBODY_UID, mode: 0o400 });
    }
  });

  // One pod of its own beside Typhoon's: an init container (uid 2000, group 2000) is the only
  // reader of loader.key; two containers, one by the pod's uid and one by its own equal uid,
  // both read shared.key.
  const keyLoader = (sidecarUid: number): string =>
    dump({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "key-loader", namespace: "kube-system" },
      spec: {
        securityContext: { runAsUser: 3000 },
        initContainers: [
          { name: "fetch", image: "example/loader:1", securityContext: { runAsUser: 2000, runAsGroup: 2000 }, command: ["/bin/load", "--key=/secrets/loader.key"], volumeMounts: [{ name: "pki", mountPath: "/secrets", readOnly: true }] },
        ],
        containers: [
          { name: "serve", image: "example/serve:1", args: ["--key=/etc/kubernetes/pki/shared.key"], volumeMounts: [{ name: "pki", mountPath: PKI }] },
          { name: "sidecar", image: "example/sidecar:1", securityContext: { runAsUser: sidecarUid }, env: [{ name: "KEY", value: `${PKI}/shared.key` }], volumeMounts: [{ name: "pki", mountPath: PKI }] },
        ],
        volumes: [{ name: "pki", hostPath: { path: PKI } }],
      },
    });
  const withKeyLoader = (sidecarUid: number): Map<string, string> =>
    new Map(assets)
      .set("static-manifests/key-loader.yaml", keyLoader(sidecarUid))
      .set("tls/k8s/loader.key", assets.get("tls/k8s/apiserver.key")!)
      .set("tls/k8s/shared.key", assets.get("tls/k8s/service-account.key")!);

  rootTest("an init container as the only reader of a key, and a key read by two containers of one pod: each key is its readers' uid's, 0400; verify agrees", async () => {
    const root = makeHost();
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(withKeyLoader(3000)));
    const result = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
    expect(result.exitCode, result.stderr as string).toBe(0);
    const owner = (name: string) => {
      const stat = fs.statSync(`${root}${PKI}/${name}`);
      return { name, uid: stat.uid, gid: stat.gid, mode: stat.mode & 0o777 };
    };
    expect(owner("loader.key")).toEqual({ name: "loader.key", uid: 2000, gid: 2000, mode: 0o400 });
    expect(owner("shared.key")).toEqual({ name: "shared.key", uid: 3000, gid: 0, mode: 0o400 });
    const verify = await runAgent(["verify", "--root", root, "--json"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
    expect(JSON.parse(verify.stdout as string).findings).toEqual([]);
  });

  rootTest("two containers of one pod that read one key as different uids: exit 65 naming both uids, nothing written", async () => {
    const root = makeHost();
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(withKeyLoader(3001)));
    const before = snapshotTree(root);
    const result = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
    expect(result.exitCode).toBe(65);
    expect(result.stderr).toContain(`${PKI}/shared.key is read by static-manifests/key-loader.yaml as uid 3000 and by static-manifests/key-loader.yaml as uid 3001; a 0400 secret has one reader`);
    expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
  });

  rootTest("a static pod without runAsUser that reads a secret: exit 65 naming the pod, nothing written", async () => {
    const pod = upstream("kube-scheduler");
    delete pod.spec.securityContext;
    const root = makeHost();
    fs.writeFileSync(`${root}/home/core/assets`, terraformBundle(new Map(assets).set("static-manifests/kube-scheduler.yaml", dump(pod))));
    const before = snapshotTree(root);
    const result = await runAgent(["apply", `${root}/home/core/assets`, "--root", root, "--no-start"], { env: { TYPHOON_AGENT_JOURNAL: "stderr" } });
    expect(result.exitCode).toBe(65);
    expect(result.stderr).toContain(
      "static-manifests/kube-scheduler.yaml: pod kube-scheduler, container kube-scheduler reads /etc/kubernetes/pki/scheduler.conf, but neither the pod nor the container sets securityContext.runAsUser",
    );
    expect(result.stderr).toContain("hint: add securityContext.runAsUser");
    expect(snapshotIgnoringRunRecord(root, before)).toEqual(before);
  });
});

describe("manifests parsed as the kubelet parses them", () => {
  test("a runAsUser given through a YAML merge key makes its container the secret's reader", () => {
    const manifest = `apiVersion: v1
kind: Pod
metadata:
  name: scheduler
spec:
  containers:
  - name: scheduler
    securityContext:
      <<: {runAsUser: 65534, runAsGroup: 65534}
      allowPrivilegeEscalation: false
    command: [kube-scheduler, --kubeconfig=/etc/kubernetes/pki/scheduler.conf]
    volumeMounts:
    - {name: secrets, mountPath: /etc/kubernetes/pki/scheduler.conf, readOnly: true}
  volumes:
  - {name: secrets, hostPath: {path: /etc/kubernetes/pki/scheduler.conf}}
`;
    expect(readersOf([source("static-manifests/scheduler.yaml", manifest)])).toEqual(new Map([["/etc/kubernetes/pki/scheduler.conf", 65534]]));
  });

  test("a manifest that is not YAML is refused with its line", () => {
    const broken = source("static-manifests/broken.yaml", "apiVersion: v1\nkind: Pod\nspec:\n  containers: [\n");
    expect(refusal(() => analyzeStaticPods([broken])).message).toMatch(/static-manifests\/broken.yaml is not a valid v1 Pod: YAML error: .+ at line \d+, column \d+$/);
  });
});
