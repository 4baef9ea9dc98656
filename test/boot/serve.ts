// The agent's release binary and its systemd-sysext image over HTTP, on 127.0.0.1 only, for
// Ignition to fetch as a node fetches them from the release URLs; and a copy of the binary
// with one byte flipped, which Ignition must refuse.

import * as http from "node:http";
import type { AddressInfo } from "node:net";

export const RELEASE_NAME = "typhoon-agent-linux-x64";
const SYSEXT_RELEASE_NAME = `${RELEASE_NAME}.raw`;

export interface BinaryServer {
  /** Where Ignition gets the binary, and the corrupted copy. */
  binaryUrl: string;
  corruptedUrl: string;
  sysextUrl: string;
  /** "GET /path" of every request, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function serveBinary(binary: Buffer, sysext: Buffer): Promise<BinaryServer> {
  const corrupted = Buffer.from(binary);
  const middle = corrupted.length >> 1;
  corrupted[middle] = corrupted[middle]! ^ 0xff;
  const files = new Map([
    [`/${RELEASE_NAME}`, binary],
    [`/corrupted/${RELEASE_NAME}`, corrupted],
    [`/${SYSEXT_RELEASE_NAME}`, sysext],
  ]);
  const requests: string[] = [];
  const server = http.createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    const body = files.get(request.url ?? "");
    response.writeHead(body === undefined ? 404 : 200, { "content-length": body?.length ?? 0 });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    binaryUrl: `${base}/${RELEASE_NAME}`,
    corruptedUrl: `${base}/corrupted/${RELEASE_NAME}`,
    sysextUrl: `${base}/${SYSEXT_RELEASE_NAME}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
