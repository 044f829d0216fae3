/**
 * systemd's notify protocol (sd_notify(3)): `READY=1` once the daemon serves and records,
 * `WATCHDOG=1` while it is healthy, `STOPPING=1` on the way out. One datagram each, sent to the
 * AF_UNIX socket in $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace) through libc
 * over Deno FFI: Deno has no stable unix datagram socket, and a `systemd-notify` child would need
 * NotifyAccess=all (any process of the service could then claim readiness).
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108;

const LIBC = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

export interface Notifier {
  /** Sends one state ("READY=1", "WATCHDOG=1", …); false when the datagram was not taken. */
  notify(state: string): boolean;
  /** Half of $WATCHDOG_USEC (when the watchdog is for this process): how often to ping. */
  readonly watchdogIntervalMs: number | null;
  close(): void;
}

/** The notifier for this service, or null when not started by systemd with a notify socket. */
export function systemdNotifier(
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Notifier | null {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return null;
  const address = sockaddr(socketPath);
  const lib = Deno.dlopen("libc.so.6", LIBC);
  const fd = lib.symbols.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    lib.close();
    throw new Error(`sd_notify: socket(AF_UNIX, SOCK_DGRAM) failed for ${socketPath}`);
  }
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === Deno.pid;
  let open = true;
  return {
    watchdogIntervalMs: Number.isFinite(usec) && usec > 0 && forUs ? usec / 2000 : null,
    notify(state) {
      if (!open) return false;
      const data = new TextEncoder().encode(state);
      const sent = lib.symbols.sendto(
        fd,
        data,
        BigInt(data.length),
        MSG_NOSIGNAL,
        address.bytes,
        address.length,
      );
      return Number(sent) === data.length;
    },
    close() {
      if (!open) return;
      open = false;
      lib.symbols.close(fd);
      lib.close();
    },
  };
}

/** struct sockaddr_un for a path or an abstract name ("@name"), and its length. */
function sockaddr(path: string): { bytes: Uint8Array<ArrayBuffer>; length: number } {
  const name = new TextEncoder().encode(path);
  if (name.length === 0 || name.length >= SUN_PATH) {
    throw new Error(`sd_notify: NOTIFY_SOCKET "${path}" is not a usable socket address`);
  }
  const bytes = new Uint8Array(2 + SUN_PATH);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(name, 2);
  const abstract = path.startsWith("@");
  if (abstract) bytes[2] = 0; // the abstract namespace: a leading NUL, no terminator
  return { bytes, length: 2 + name.length + (abstract ? 0 : 1) };
}
