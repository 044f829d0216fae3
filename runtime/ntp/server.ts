/**
 * A small SNTP server (RFC 4330; RFC 5905 server mode) on UDP: each well-formed client request
 * (packet.ts) from a source within its rate limit (rate_limit.ts) gets one answer of the same
 * size; everything else is dropped without a word and counted. The time comes from `time()`,
 * asked for every answer, so the server stops handing out time the moment the box's clock is no
 * longer believed. Listeners are given by the caller; nothing here picks an address.
 */
import type { Logger } from "../lib/log.ts";
import { buildReply, type DropReason, parseRequest, type SntpTime } from "./packet.ts";
import { RateLimit, type RateLimitOptions } from "./rate_limit.ts";

export type { SntpTime } from "./packet.ts";

export interface SntpServerOptions {
  /** Where to listen, e.g. `{ hostname: "0.0.0.0", port: 123 }`. */
  readonly listen: readonly { readonly hostname: string; readonly port: number }[];
  /** The box's clock as an answer should state it; asked for every answer. */
  readonly time: () => SntpTime;
  readonly log: Logger;
  /** The wall clock for receive and transmit timestamps; default Date.now. */
  readonly wall?: () => number;
  /** A monotonic clock, ms, for the rate limit; default performance.now. */
  readonly mono?: () => number;
  readonly rateLimit?: RateLimitOptions;
}

/** What the server did, for tests and health. */
export interface SntpStats {
  answered: number;
  /** Of those, answered "not synchronised" (kiss code INIT). */
  unsynced: number;
  rateLimited: number;
  dropped: Record<DropReason, number>;
}

export interface SntpServer {
  /** The bound addresses (port 0 in `listen` becomes the port given). */
  readonly addrs: readonly Deno.NetAddr[];
  readonly stats: Readonly<SntpStats>;
  close(): Promise<void>;
}

/** Bigger than any answerable request, so a longer one is seen as longer (and dropped). */
const RECEIVE_BYTES = 64;

/** Binds every listener (throws, naming it, when one cannot be bound) and starts answering. */
export function startSntpServer(options: SntpServerOptions): SntpServer {
  const wall = options.wall ?? Date.now;
  const mono = options.mono ?? (() => performance.now());
  const limit = new RateLimit(options.rateLimit);
  const stats: SntpStats = {
    answered: 0,
    unsynced: 0,
    rateLimited: 0,
    dropped: { length: 0, version: 0, mode: 0 },
  };
  const conns: Deno.DatagramConn[] = [];
  let closed = false;
  try {
    for (const { hostname, port } of options.listen) {
      try {
        conns.push(Deno.listenDatagram({ transport: "udp", hostname, port }));
      } catch (err) {
        throw new Error(
          `NTP server: cannot listen on ${hostname}:${port} (ntp.listen): ${
            (err as Error).message
          }; free the port or change ntp.listen`,
          { cause: err },
        );
      }
    }
  } catch (err) {
    for (const c of conns) c.close();
    throw err;
  }

  const serve = async (conn: Deno.DatagramConn) => {
    const buf = new Uint8Array(RECEIVE_BYTES);
    let failures = 0;
    for (;;) {
      let data: Uint8Array;
      let from: Deno.Addr;
      try {
        [data, from] = await conn.receive(buf);
      } catch (err) {
        if (closed) return;
        // A UDP receive error (an ICMP error reported late) concerns one datagram, not the
        // socket; one that keeps failing is given up rather than spun on.
        if (++failures > 100) {
          options.log.error("NTP listener stopped: receive keeps failing", { err });
          return;
        }
        continue;
      }
      failures = 0;
      const receivedMs = wall();
      const source = from as Deno.NetAddr;
      const request = parseRequest(data);
      if ("drop" in request || source.port === 0) {
        stats.dropped["drop" in request ? request.drop : "mode"]++;
        continue;
      }
      if (!limit.take(source.hostname, mono())) {
        stats.rateLimited++;
        continue;
      }
      const time = options.time();
      const reply = buildReply(request, time, receivedMs, wall());
      try {
        await conn.send(reply, source);
        stats.answered++;
        if (!time.trusted) stats.unsynced++;
      } catch (err) {
        options.log.debug("NTP answer not sent", { to: source.hostname, err });
      }
    }
  };
  const loops = conns.map(serve);
  const addrs = conns.map((c) => c.addr as Deno.NetAddr);
  options.log.info("NTP server listening", {
    listen: addrs.map((a) => `${a.hostname}:${a.port}`),
  });
  return {
    addrs,
    stats,
    async close() {
      closed = true;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* already closed */ }
      }
      await Promise.all(loops);
    },
  };
}
