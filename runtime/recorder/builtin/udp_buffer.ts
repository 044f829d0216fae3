/**
 * RTP over UDP needs a kernel receive buffer that outlasts the recorder's busy moments: Linux's
 * default (212992 bytes) holds about 0.2 s of a 4 Mbit/s camera, and Deno cannot set SO_RCVBUF on
 * its sockets, so the box raises the default (rootfs-overlay/etc/sysctl.d/60-nvr-udp.conf). A box
 * without it is told so when a UDP camera starts, with what to do.
 */

/** What the image sets (net.core.rmem_default). */
export const UDP_BUFFER_WANTED = 4 * 1024 * 1024;
/** Below this, a warning: about 1 s of a 8 Mbit/s camera. */
export const UDP_BUFFER_MIN = 1024 * 1024;

/** net.core.rmem_default in bytes, or null when it cannot be read. */
export function readUdpReceiveBuffer(procRoot = "/proc"): number | null {
  try {
    const text = Deno.readTextFileSync(`${procRoot}/sys/net/core/rmem_default`).trim();
    const n = Number(text);
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** The warning for a UDP camera given the kernel's default receive buffer; null when it is enough. */
export function udpBufferWarning(bytes: number | null): string | null {
  if (bytes === null || bytes >= UDP_BUFFER_MIN) return null;
  return `the kernel's default UDP receive buffer is ${bytes} bytes (net.core.rmem_default), ` +
    "about 0.2 s of a 4 Mbit/s camera: packets, and so pictures, are lost whenever the recorder " +
    `is busy. Set net.core.rmem_default=${UDP_BUFFER_WANTED} and net.core.rmem_max=` +
    `${2 * UDP_BUFFER_WANTED} (the image does, in /etc/sysctl.d/60-nvr-udp.conf), or set ` +
    'cameras[].transport to "tcp"';
}
