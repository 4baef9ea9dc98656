// The value forms of the agent configuration, as tables of good and bad values: node labels
// and taints the way kubelet >= 1.16 judges them, IP addresses, DNS names, image references
// and user names.

import { describe, expect, test } from "vitest";
import { dnsSubdomainProblem, imageReferenceProblem, ipAddressProblem, userNameProblem } from "../agent/config/forms.ts";
import { duplicateLabelProblem, duplicateTaintProblem, labelProblem, taintProblem } from "../agent/config/labels.ts";

const name63 = `a${"b".repeat(61)}c`;

describe("node labels", () => {
  test.each([
    "example.com/rack=r1",
    "rack=r1",
    "rack", // empty value, as the kubelet's --node-labels accepts it
    "rack=",
    `${name63}=${name63}`,
    `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}/x=y`, // 253-character prefix
    "a_b.c-d=E_f.G-h",
    // The kubelet's own namespaces and its allowed set of well-known labels.
    "node.kubernetes.io/ingress=true",
    "kubelet.kubernetes.io/anything=x",
    "pool.node.kubernetes.io/name=x",
    "kubernetes.io/hostname=n1",
    "kubernetes.io/os=linux",
    "kubernetes.io/arch=amd64",
    "beta.kubernetes.io/os=linux",
    "beta.kubernetes.io/arch=arm64",
    "beta.kubernetes.io/instance-type=t3.small",
    "node.kubernetes.io/instance-type=t3.small",
    "failure-domain.beta.kubernetes.io/region=r",
    "failure-domain.beta.kubernetes.io/zone=z",
    "topology.kubernetes.io/region=r",
    "topology.kubernetes.io/zone=z",
    "example.k8s.io.example.com/x=y", // k8s.io inside a name is not the k8s.io namespace
  ])("accepts %s", (label) => {
    expect(labelProblem(label)).toBeUndefined();
  });

  test.each([
    ["node-role.kubernetes.io/master", "kubectl label node"],
    ["node-role.kubernetes.io/node=", "kubectl label node"],
    ["node-role.kubernetes.io/controller=true", "kubernetes.io/k8s.io namespace"],
    ["kubernetes.io/role=master", "kubernetes.io/k8s.io namespace"],
    ["node-restriction.kubernetes.io/pool=a", "kubernetes.io/k8s.io namespace"],
    ["example.k8s.io/x=y", "kubernetes.io/k8s.io namespace"],
    ["k8s.io/x=y", "kubernetes.io/k8s.io namespace"],
    ["=value", "empty key"],
    ["a/b/c=d", 'more than one "/"'],
    ["/name=x", 'prefix ""'],
    ["Example.com/x=y", 'prefix "Example.com"'],
    ["-bad.com/x=y", 'prefix "-bad.com"'],
    [`${"a".repeat(254)}/x=y`, "longer than 253"],
    ["-name=x", 'key name "-name"'],
    [`${name63}d=x`, `key name "${name63}d"`],
    ["name=-value", 'value "-value"'],
    [`name=${name63}d`, `value "${name63}d"`],
    ["name=a=b", 'value "a=b"'],
    ["na me=x", 'key name "na me"'],
    ["name=a,b", 'value "a,b"'],
  ])("rejects %s", (label, reason) => {
    expect(labelProblem(label)).toContain(reason);
  });

  test("a key may be set once, and not again after its role set it", () => {
    expect(duplicateLabelProblem("worker", ["a=1", "b=2"])).toBeUndefined();
    expect(duplicateLabelProblem("worker", ["a=1", "a=2"])).toContain("a second time");
    expect(duplicateLabelProblem("worker", ["node.kubernetes.io/node=x"])).toContain("role worker");
    expect(duplicateLabelProblem("controller", ["node.kubernetes.io/controller=false"])).toContain("role controller");
    expect(duplicateLabelProblem("controller", ["node.kubernetes.io/node"])).toBeUndefined();
  });
});

describe("node taints", () => {
  test.each(["dedicated=infra:NoSchedule", "dedicated:NoExecute", "dedicated=:PreferNoSchedule", "example.com/gpu=true:NoSchedule"])("accepts %s", (taint) => {
    expect(taintProblem(taint)).toBeUndefined();
  });

  test.each([
    ["dedicated=infra", "has no effect"],
    ["dedicated", "has no effect"],
    ["dedicated=infra:NoSchedul", 'effect "NoSchedul"'],
    ["dedicated=infra:noschedule", 'effect "noschedule"'],
    ["dedicated=infra:", 'effect ""'],
    ["a:b:NoSchedule", 'more than one ":"'],
    ["a=b=c:NoSchedule", 'more than one "="'],
    ["=x:NoSchedule", "empty key"],
    ["-a=x:NoSchedule", 'key name "-a"'],
    ["a=-x:NoSchedule", 'value "-x"'],
  ])("rejects %s", (taint, reason) => {
    expect(taintProblem(taint)).toContain(reason);
  });

  test("key and effect may be given once, and not again after the role", () => {
    expect(duplicateTaintProblem("worker", ["a=1:NoSchedule", "a=2:NoExecute"])).toBeUndefined();
    expect(duplicateTaintProblem("worker", ["a=1:NoSchedule", "a=2:NoSchedule"])).toContain("a second time");
    expect(duplicateTaintProblem("controller", ["node-role.kubernetes.io/controller:NoSchedule"])).toContain("role controller");
    expect(duplicateTaintProblem("worker", ["node-role.kubernetes.io/controller:NoSchedule"])).toBeUndefined();
  });
});

describe("IP addresses", () => {
  test.each(["10.3.0.10", "0.0.0.0", "255.255.255.255", "fd00::a", "::1", "::", "fe80::1:2:3:4:5", "2001:db8:0:0:0:0:0:1", "1:2:3:4:5:6:7::", "::ffff:10.3.0.10", "64:ff9b::192.0.2.33", "FD00::A"])(
    "accepts %s",
    (address) => {
      expect(ipAddressProblem(address)).toBeUndefined();
    },
  );

  test.each(["10.3.0.300", "10.3.0", "10.3.0.10.1", "010.3.0.10", "10.3.0.10 ", "", "fd00:::a", "fd00::a::b", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "fe80::1%eth0", "::ffff:10.3.0.300", "::10.3.0.10:1", "g::1", "cluster.local"])(
    "rejects %s",
    (address) => {
      expect(ipAddressProblem(address)).toBe("is not an IP address");
    },
  );
});

describe("DNS names", () => {
  test.each(["cluster.local", "k8s.example.com", "a", "a-b.c1", `${"a".repeat(63)}.b`])("accepts %s", (name) => {
    expect(dnsSubdomainProblem(name)).toBeUndefined();
  });
  test.each(["Cluster.local", "cluster.local.", ".cluster", "-a.b", "a-.b", "a..b", "a_b.c", `${"a".repeat(64)}.b`, "", `${"a.".repeat(127)}ab`])("rejects %s", (name) => {
    expect(dnsSubdomainProblem(name)).toBeDefined();
  });
});

describe("image references", () => {
  test.each([
    "quay.io/poseidon/kubelet:v1.36.1",
    "poseidon/kubelet:v1.36.1",
    "localhost:5000/kubelet:v1",
    "registry.example.com:5000/team/kubelet:v1.36.1-rc.1_2",
    `quay.io/poseidon/kubelet@sha256:${"0".repeat(64)}`,
    `quay.io/poseidon/kubelet:v1.36.1@sha256:${"a".repeat(64)}`,
    "[fd00::1]:5000/kubelet:v1",
  ])("accepts %s", (image) => {
    expect(imageReferenceProblem(image)).toBeUndefined();
  });

  test.each([
    ["quay.io/poseidon/kubelet", "no tag or digest"],
    ["localhost:5000/kubelet", "no tag or digest"],
    ["kubelet:latest", "floating tag"],
    ["docker://quay.io/poseidon/kubelet:v1", "transport prefix"],
    ["quay.io/Poseidon/kubelet:v1", "not an image reference"],
    ["quay.io/poseidon/kubelet:v1 --privileged", "not an image reference"],
    ["quay.io/poseidon/kubelet:$TAG", "not an image reference"],
    ["quay.io/poseidon/kubelet:%i", "not an image reference"],
    ["quay.io/poseidon/kubelet:", "not an image reference"],
    ["quay.io/poseidon/kubelet@sha256:abc", "not an image reference"],
    [`quay.io/poseidon/kubelet:${"t".repeat(129)}`, "not an image reference"],
    [`quay.io/${"a".repeat(250)}:v1`, "longer than 255"],
  ])("rejects %s", (image, reason) => {
    expect(imageReferenceProblem(image)).toContain(reason);
  });
});

describe("user names", () => {
  test.each(["etcd", "_etcd", "etcd-member", "etcd_2"])("accepts %s", (user) => {
    expect(userNameProblem(user)).toBeUndefined();
  });
  test.each(["Etcd", "232", "etcd user", "", "e".repeat(33), "etcd:etcd"])("rejects %s", (user) => {
    expect(userNameProblem(user)).toBe("is not a user name");
  });
});
