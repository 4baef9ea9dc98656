// Checked by `npm run typecheck`, never run: host paths and real paths cannot be mixed up.
// Each @ts-expect-error fails the type check once the mistake below it compiles.

import { HostRoot, type HostPath, type RealPath } from "../agent/hostfs/host-root.ts";

export function mixUps(host: HostRoot, hostPath: HostPath, real: RealPath): void {
  host.file("/etc/kubernetes/pki/ca.key"); // a host path as the operator writes it
  host.display(host.file(hostPath)); // the one way from a real path back to a host path
  // @ts-expect-error a real path is not a host path: resolving it again would add --root twice
  host.file(real);
  // @ts-expect-error a host path is not a real path: it would be used outside --root
  host.display(hostPath);
  // @ts-expect-error a real path is made by HostRoot, never by joining strings
  const joined: RealPath = `${real}/x`;
  void joined;
}
