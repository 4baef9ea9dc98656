// Datagrams to journald's native socket through libc, via bun:ffi. This is the one module of
// the agent allowed a Bun-only API: Node has no AF_UNIX datagram sockets, and the npm
// systemd-journald addon is built for Node's ABI and does not load under Bun.
//
// libc is opened, and the socket created, on the first send only, so a command that never
// logs pays nothing at start-up.
//
// A datagram stays charged to the sender's buffer until journald reads it, so a burst of
// entries while journald is busy (at boot, say) fills a default-sized buffer: the buffer is
// raised to 8 MiB like sd_journal_send() does, and a full one is waited for, but only for
// SEND_TIMEOUT. A send that timed out marks journald as stalled, and later sends do not wait
// at all until one gets through again: a hung journald costs entries (the caller writes them
// to stderr), never a hung apply.

import { dlopen } from "bun:ffi";

/** Always the host's socket: `--root` relocates what the agent installs, not where it logs. */
const JOURNAL_SOCKET = "/run/systemd/journal/socket";
const SEND_BUFFER_BYTES = 8 * 1024 * 1024;
const SEND_TIMEOUT_MICROSECONDS = 250_000;

// Linux values, the same on x86-64 and arm64 (the only targets the binary is built for).
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_SNDTIMEO = 21;
/** SO_SNDBUF beyond net.core.wmem_max; needs CAP_NET_ADMIN, which the agent has at boot. */
const SO_SNDBUFFORCE = 32;
const MSG_DONTWAIT = 0x40;

function openLibc() {
  return dlopen("libc.so.6", {
    socket: { args: ["i32", "i32", "i32"], returns: "i32" },
    // int setsockopt(int fd, int level, int name, const void *value, socklen_t length)
    setsockopt: { args: ["i32", "i32", "i32", "buffer", "u32"], returns: "i32" },
    // ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
    sendto: { args: ["i32", "buffer", "buffer_length", "i32", "buffer", "u32"], returns: "i64" },
  }).symbols;
}

/** struct sockaddr_un: a 16-bit family, then the NUL-terminated path. */
function socketAddress(path: string): Uint8Array {
  const pathBytes = Buffer.from(path);
  const address = new Uint8Array(2 + pathBytes.length + 1);
  new DataView(address.buffer).setUint16(0, AF_UNIX, true);
  address.set(pathBytes, 2);
  return address;
}

interface Transport {
  sendto: ReturnType<typeof openLibc>["sendto"];
  fd: number;
  address: Uint8Array;
  /** The last send failed after waiting: do not wait again until one succeeds. */
  stalled: boolean;
}

/** undefined until the first send; null once libc or socket() failed (never retried). */
let transport: Transport | null | undefined;

function openTransport(): Transport | null {
  try {
    const libc = openLibc();
    const fd = libc.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return null;
    const size = new Int32Array([SEND_BUFFER_BYTES]);
    // Best effort: without either, entries are limited to the default buffer (about 200 KB).
    if (libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, size, size.byteLength) < 0) {
      libc.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size, size.byteLength);
    }
    const timeout = new BigInt64Array([0n, BigInt(SEND_TIMEOUT_MICROSECONDS)]); // struct timeval
    if (libc.setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, timeout.byteLength) < 0) return null;
    return { sendto: libc.sendto, fd, address: socketAddress(JOURNAL_SOCKET), stalled: false };
  } catch {
    return null;
  }
}

/**
 * Sends one entry to journald. Returns false when it did not arrive (no socket, journald
 * not listening or not keeping up, the entry larger than the socket's send buffer...), so
 * the caller can write it elsewhere. Never throws.
 */
export function sendToJournal(datagram: Uint8Array): boolean {
  if (transport === undefined) transport = openTransport();
  if (transport === null) return false;
  try {
    const { sendto, fd, address, stalled } = transport;
    const sent = Number(sendto(fd, datagram, datagram, stalled ? MSG_DONTWAIT : 0, address, address.length)) === datagram.length;
    transport.stalled = !sent;
    return sent;
  } catch {
    return false;
  }
}
