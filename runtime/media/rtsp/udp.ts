/**
 * RTP and RTCP over UDP for one track (RFC 2326 §12.39 `client_port`): a pair of sockets on
 * consecutive ports (RTP even, RTCP odd), bound to the local address the RTSP connection uses.
 *
 * Only the camera may feed them: a datagram whose source is not the camera's address (and, when
 * the SETUP answer named it, its `server_port`) is dropped and counted, so another host on the LAN
 * cannot inject pictures into a recording. Each socket reads into its own reused buffer; a packet
 * is handed over as a view valid only during the call.
 */
import { RtspError } from "./errors.ts";

/** Where the camera sends from: its address, and its RTP/RTCP ports when it said so. */
export interface UdpSource {
  readonly hostname: string;
  /** server_port of the SETUP answer, or null (then any port of that host is taken). */
  readonly rtpPort: number | null;
  readonly rtcpPort: number | null;
}

export interface UdpPair {
  readonly rtp: Deno.DatagramConn;
  readonly rtcp: Deno.DatagramConn;
  /** The RTP port; RTCP is the next one. */
  readonly port: number;
}

const BIND_ATTEMPTS = 32;
const DATAGRAM_BYTES = 64 * 1024;

/** Binds RTP and RTCP sockets on ports p and p+1 (p even) of `hostname`. */
export function bindPortPair(hostname: string, shown: string): UdpPair {
  let lastError: unknown = null;
  for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
    const rtp = Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
    const port = (rtp.addr as Deno.NetAddr).port;
    if (port % 2 !== 0 || port >= 65535) {
      rtp.close();
      continue;
    }
    try {
      const rtcp = Deno.listenDatagram({ transport: "udp", hostname, port: port + 1 });
      return { rtp, rtcp, port };
    } catch (err) {
      lastError = err;
      rtp.close();
    }
  }
  throw new RtspError(
    `${shown}: cannot bind a UDP port pair on ${hostname} for RTP/RTCP` +
      (lastError instanceof Error ? ` (${lastError.message})` : "") +
      '; set cameras[].transport to "tcp"',
    null,
    { kind: "connect" },
  );
}

/** The server_port=a-b and source= of a SETUP answer's Transport header. */
export function parseUdpTransport(
  transport: string,
): { serverPorts: [number, number] | null; source: string | null } {
  const ports = /server_port\s*=\s*(\d+)(?:\s*-\s*(\d+))?/i.exec(transport);
  const source = /(?:^|;)\s*source\s*=\s*([^;\s]+)/i.exec(transport)?.[1] ?? null;
  if (ports === null) return { serverPorts: null, source };
  const a = Number(ports[1]);
  const b = ports[2] === undefined ? a + 1 : Number(ports[2]);
  const valid = (p: number) => Number.isInteger(p) && p > 0 && p < 65536;
  return { serverPorts: valid(a) && valid(b) ? [a, b] : null, source };
}

/** Address text as Deno reports it (IPv6 without brackets, IPv4-mapped IPv6 as IPv4). */
export function normalHost(hostname: string): string {
  const h = hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? mapped[1]! : h;
}

/**
 * Reads `conn` until it is closed, handing every datagram from `hostname`:`port` (any port when
 * null) to `onPacket`, and counting the others with `onForeign`. Resolves when the socket closes.
 */
export async function receiveFrom(
  conn: Deno.DatagramConn,
  hostname: string,
  port: number | null,
  onPacket: (packet: Uint8Array) => void,
  onForeign: () => void,
): Promise<void> {
  const buffer = new Uint8Array(DATAGRAM_BYTES);
  const host = normalHost(hostname);
  for (;;) {
    let got: [Uint8Array, Deno.Addr];
    try {
      got = await conn.receive(buffer);
    } catch {
      return; // closed (the session ended) or the socket failed: the silence watchdog tells
    }
    const [packet, addr] = got;
    const from = addr as Deno.NetAddr;
    if ((port !== null && from.port !== port) || normalHost(from.hostname) !== host) {
      onForeign();
      continue;
    }
    onPacket(packet);
  }
}
